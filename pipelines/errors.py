"""Errors of the use-case layer: one base, structured details, and the outward HTTP status.

The app layer turns any `PipelineError` into the API error body
`{"error": {"code": ..., "message": ..., "details": {...}}}` without knowing which use case
raised it. Not-found errors are 404 for rows of another tenant too: existence is never leaked.
"""

from __future__ import annotations

from core import LecternError


class PipelineError(LecternError):
    """Base of every error raised by `pipelines`; `details` holds JSON-friendly fields."""

    code = "pipeline_error"
    http_status = 500


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


class ConversationNotFound(PipelineError):
    """No conversation with this id in the caller's tenant (it may exist in another tenant)."""

    code = "conversation_not_found"
    http_status = 404
