"""Errors of the retrieval package: one base, structured details, and the outward HTTP status.

Every refusal of `retrieval` (a malformed query, an unusable filter, ...) raises a subclass of
`RetrievalError`, so the app layer can turn any of them into the API error body
`{"error": {"code": ..., "message": ..., "details": {...}}}` without knowing which check failed.
Database errors are not translated: they are bugs or outages, not caller mistakes.
"""

from __future__ import annotations

from typing import Any


def _rebuild(cls: type[RetrievalError], message: str, details: dict[str, Any]) -> RetrievalError:
    """Recreate an error on the far side of a process boundary (see `RetrievalError.__reduce__`)."""
    return cls(message, **details)


class RetrievalError(Exception):
    """Base of every error raised by `retrieval`; `details` holds JSON-friendly fields."""

    code: str = "retrieval_error"
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


class InvalidQuery(RetrievalError):
    """The search request itself is unusable: empty text for a text search, a query vector of
    the wrong dimension or with non-finite values, `top_k`/`candidates` out of range, an
    unknown mode. Details name the offending `field`."""

    code = "invalid_query"
    http_status = 422


class InvalidFilter(RetrievalError):
    """A filter cannot be applied: a document id that is not a UUID, an empty id list, a
    metadata filter that is not a JSON object. Details name the offending `field`."""

    code = "invalid_filter"
    http_status = 422


class InvalidBudget(RetrievalError):
    """Context assembly was asked to fit sources into a non-positive token budget."""

    code = "invalid_budget"
    http_status = 422
