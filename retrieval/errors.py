"""Errors of the retrieval package: one base, structured details, and the outward HTTP status.

Every refusal of `retrieval` (a malformed query, an unusable filter, ...) raises a subclass of
`RetrievalError`, so the app layer can turn any of them into the API error body
`{"error": {"code": ..., "message": ..., "details": {...}}}` without knowing which check failed.
Database errors are not translated: they are bugs or outages, not caller mistakes.
"""

from __future__ import annotations

from core import LecternError


class RetrievalError(LecternError):
    """Base of every error raised by `retrieval`; `details` holds JSON-friendly fields."""

    code = "retrieval_error"
    http_status = 500


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


class SearchTimedOut(RetrievalError):
    """The search statement ran past its time limit (`timeout_ms` in details) and was cancelled
    by PostgreSQL: the server is overloaded, or the query is pathological. Retrying later may
    succeed, hence 503."""

    code = "search_timeout"
    http_status = 503
