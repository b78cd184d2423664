"""Turn every error a request can meet into one JSON shape with the right HTTP status.

The body is always `{"error": {"code", "message", "details"}}`. Errors raised on purpose are
`core.LecternError`s (each package's base, and `ApiError` for the HTTP layer's own refusals):
the handler reads their `code`, `message`, `details` and `http_status` and nothing else. Request
validation becomes 422; Starlette's own 404/405/413 get the same shape. A database that cannot
be reached (a lost or refused connection, an exhausted pool: `core.is_database_unavailable`),
on any route, is 503 `database_unavailable` with `Retry-After` and nothing of the server in
the body. Other exceptions, query errors included, are handled by
`app.middleware.RequestContextMiddleware`, which answers 500 with the request id.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import DatabaseUnavailable, LecternError, is_database_unavailable

logger = logging.getLogger("lectern.errors")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "file_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}


class ApiError(LecternError):
    """A refusal decided by the HTTP layer itself (auth, malformed form fields, ...): its status
    and code are given per refusal instead of per class."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.http_status = status
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_api_error, (self.http_status, self.code, self.message, self.details))


def _rebuild_api_error(status: int, code: str, message: str, details: dict[str, Any]) -> ApiError:
    return ApiError(status, code, message, **details)


class BodyTooLarge(StarletteHTTPException):
    """The request body outgrew the upload limit while it was being received.

    It is an `HTTPException` so FastAPI re-raises it from body parsing instead of turning it
    into a generic 400.
    """

    def __init__(self, limit: int, received: int | None = None) -> None:
        super().__init__(status_code=413, detail=f"request body is larger than {limit} bytes")
        self.limit = limit
        self.received = received


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A `JSONResponse` with the shared error body."""
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def domain_error_response(exc: LecternError) -> JSONResponse:
    """Render a package error with its own code, status and structured details; a 401 says
    how to authenticate, and an error whose details carry `retry_after_s` (whole seconds)
    gives it as `Retry-After`."""
    headers = {}
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = exc.details.get("retry_after_s")
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
    return error_response(exc.http_status, exc.code, exc.message, exc.details, headers or None)


async def _domain_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LecternError)
    if exc.http_status >= 500:
        logger.error(
            "request failed: code=%s message=%s request_id=%s",
            exc.code,
            exc.message,
            getattr(request.state, "request_id", None),
        )
    return domain_error_response(exc)


async def _database_handler(request: Request, exc: Exception) -> JSONResponse:
    """503 for an unreachable database; any other database error is raised on, to the 500
    catch-all, as before."""
    if not is_database_unavailable(exc):
        raise exc
    logger.warning(
        "request failed: code=database_unavailable cause=%s request_id=%s",
        type(exc).__name__,
        getattr(request.state, "request_id", None),
    )
    return domain_error_response(DatabaseUnavailable())


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Drop `input` (it may hold a whole uploaded file) and `ctx` (it may hold exceptions).
    return [
        {"loc": list(item.get("loc", ())), "msg": item.get("msg", ""), "type": item.get("type")}
        for item in exc.errors()
    ]


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_details(exc)
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    message = f"{where}: {first['msg']}" if where else str(first["msg"])
    return error_response(422, "validation_error", message, {"errors": errors})


def _unparsable_body(exc: StarletteHTTPException) -> JSONResponse | None:
    """422 naming why FastAPI could not decode a JSON body it calls only "an error parsing
    the body" (400): nesting past Python's recursion limit, an integer of thousands of digits."""
    cause = exc.__cause__
    if exc.status_code != 400 or not isinstance(cause, RecursionError | ValueError):
        return None
    reason = "is nested too deeply to read" if isinstance(cause, RecursionError) else (
        f"cannot be read: {cause}")
    return error_response(422, "validation_error", f"body: the JSON {reason}",
                          {"errors": [{"loc": ["body"], "msg": reason, "type": "json_invalid"}]})


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if (unparsable := _unparsable_body(exc)) is not None:
        return unparsable
    status = exc.status_code
    code = _STATUS_CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_"))
    details: dict[str, Any] = {}
    if isinstance(exc, BodyTooLarge):
        details = {"limit": exc.limit}
        message = f"upload is larger than the limit of {exc.limit} bytes"
    elif status == 404:
        message = f"no route matches {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(status, code, message, details, dict(exc.headers or {}) or None)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on `app`."""
    app.add_exception_handler(LecternError, _domain_handler)
    app.add_exception_handler(SQLAlchemyError, _database_handler)
    app.add_exception_handler(psycopg.Error, _database_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
