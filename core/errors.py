"""The one error base of lectern: a message, structured details, a code and an HTTP status.

Every package raises subclasses of its own base (`IngestError`, `RetrievalError`,
`PipelineError`, `LLMError`, `ApiError`), and every one of those bases is a `LecternError`, so
the HTTP handler and the SSE framing turn any of them into the API error body
`{"error": {"code": ..., "message": ..., "details": {...}}}` by reading these fields alone.
Errors survive pickling with their details, because ingest errors cross the OCR process pool.
"""

from __future__ import annotations

from typing import Any


def _rebuild(cls: type[LecternError], message: str, details: dict[str, Any]) -> LecternError:
    """Recreate an error on the far side of a process boundary (see `__reduce__` below)."""
    return cls(message, **details)


class LecternError(Exception):
    """Base of every error lectern raises on purpose.

    `code` is machine-readable and stable, `http_status` the outward status a door answers
    with, `details` JSON-friendly fields that say what exactly was wrong. Not raised itself.
    """

    code: str = "error"
    http_status: int = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))

    def to_dict(self) -> dict[str, Any]:
        """The body of an API error response for this error."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}
