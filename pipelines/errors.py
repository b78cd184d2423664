"""Errors of the use-case layer: one base, structured details, and the outward HTTP status.

The app layer turns any `PipelineError` into the API error body
`{"error": {"code": ..., "message": ..., "details": {...}}}` without knowing which use case
raised it. Not-found errors are 404 for rows of another tenant too: existence is never leaked.
"""

from __future__ import annotations

from typing import Any


class PipelineError(Exception):
    """Base of every error raised by `pipelines`; `details` holds JSON-friendly fields."""

    code: str = "pipeline_error"
    http_status: int = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """The body of an API error response for this error."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class DocumentNotFound(PipelineError):
    """No document with this id in the caller's tenant (it may exist in another tenant)."""

    code = "document_not_found"
    http_status = 404


class JobNotFound(PipelineError):
    """No job with this id in the caller's tenant (it may exist in another tenant)."""

    code = "job_not_found"
    http_status = 404


class JobWaitTimeout(PipelineError):
    """`wait_for_job` gave up before the job finished; the job itself keeps running."""

    code = "job_wait_timeout"
    http_status = 504
