"""Errors of structured extraction, under the use-case layer's `PipelineError` base.

They subclass `pipelines.errors.PipelineError`, so the app turns them into the shared API body
`{"error": {"code", "message", "details"}}` with their own HTTP status and no extra wiring.
Every `details` value is JSON-friendly.
"""

from __future__ import annotations

from typing import Any

from pipelines.errors import PipelineError


class ExtractionError(PipelineError):
    """Base of every error raised by `pipelines.extract`."""

    code = "extraction_error"
    http_status = 422


class InvalidSchema(ExtractionError):
    """The caller's schema is not usable: unknown name, not a JSON Schema, too big or too deep,
    or a keyword outside the supported subset. `details["errors"]` lists each problem."""

    code = "invalid_schema"
    http_status = 422


class ExtractionFailed(ExtractionError):
    """Every attempt returned output that did not validate; the last errors and raw output are
    kept so the caller can see what the model said."""

    code = "extraction_failed"
    http_status = 422

    def __init__(
        self,
        message: str,
        *,
        errors: list[dict[str, Any]],
        raw_output: str,
        attempts: int,
        **details: Any,
    ) -> None:
        super().__init__(
            message, errors=errors, raw_output=raw_output, attempts=attempts, **details
        )
        self.errors = errors
        self.raw_output = raw_output
        self.attempts = attempts


class NoExtractor(ExtractionError):
    """No configured model can return structured output for the `extract` task."""

    code = "no_extractor"
    http_status = 503


class DocumentNotReady(ExtractionError):
    """The document is still being ingested, or its ingestion failed: no text to read yet."""

    code = "document_not_ready"
    http_status = 409


class NothingToExtract(ExtractionError):
    """The input holds no text at all (an empty upload, a blank scan)."""

    code = "nothing_to_extract"
    http_status = 422
