"""ASGI middleware: the security headers of every response, request ids, one access-log line
per request, the 500 catch-all, the authentication gate that decides a `/v1/` request's tenant
before its body is read, and the upload size guard that rejects an oversized body before it is
read.

All are plain ASGI classes (not `BaseHTTPMiddleware`) so that streaming responses such as
SSE pass through untouched and exceptions are not wrapped in task groups.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import authenticate_principal
from app.errors import BodyTooLarge, domain_error_response, error_body
from core import DatabaseUnavailable, LecternError, is_database_unavailable

if TYPE_CHECKING:
    from app.container import Container

access_log = logging.getLogger("lectern.access")
error_log = logging.getLogger("lectern.errors")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _request_id(scope: Scope) -> str:
    """Reuse a caller's well-formed `X-Request-ID`, otherwise make a new one."""
    given = Headers(scope=scope).get(REQUEST_ID_HEADER)
    if given and _VALID_REQUEST_ID.match(given):
        return given
    return uuid.uuid4().hex


async def _send_json(send: Send, status: int, body: dict[str, object], request_id: str) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
"""Set on every response: no MIME sniffing of JSON into something a browser runs, nothing of a
tenant's answers kept in a browser or proxy cache, no URL leaked as a referrer, never framed
(old and new header). No HSTS: lectern serves plain HTTP; TLS and HSTS are the proxy's."""


class SecurityHeadersMiddleware:
    """Add `SECURITY_HEADERS` to every HTTP response, errors and SSE streams included, when it
    starts; the body passes through untouched, so streams are not buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestContextMiddleware:
    """Give each request an id (echoed as `X-Request-ID`), log it once, and answer 500 JSON
    naming that id when anything below raises an unexpected exception."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception(
                "unhandled error: method=%s path=%s request_id=%s",
                scope["method"],
                scope["path"],
                request_id,
            )
            status = 500
            if not response_started:
                body = error_body(
                    "internal_error",
                    f"internal server error; quote request id {request_id} when reporting it",
                    {"request_id": request_id},
                )
                await _send_json(send, 500, body, request_id)
        finally:
            access_log.info(
                "method=%s path=%s status=%d duration_ms=%.1f tenant=%s request_id=%s",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                state.get("tenant", "-"),
                request_id,
            )


class AuthGateMiddleware:
    """Authenticate every request under `TENANT_PATHS` before a byte of its body is read, and
    leave its tenant in `request.state.tenant` (read by `app.deps.TenantDep`) and what its key
    allows in `request.state.principal` (`app.auth.Principal`: rate limits, admin).

    Why here and not only in a dependency: FastAPI reads and parses a body (JSON, or a
    multipart upload spooled to disk) before it runs a route's dependencies, so a request
    without a key would get 422 for a malformed body, and its upload would be received, before
    the 401. Every route under `/v1/` acts for a tenant, so the gate goes by the path and
    needs no route table: a request for an unknown `/v1/` path is refused alike. A refusal is
    the usual JSON error: 401, or 503 `database_unavailable` while the database cannot be
    reached; any other error goes on to the 500 catch-all.
    """

    TENANT_PATHS = ("/v1/", "/mcp")
    """Path prefixes whose requests act for a tenant: the API, and MCP (`app.mcp.MCP_PATH`)."""

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.container = container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "").removeprefix(scope.get("root_path", ""))
        if scope["type"] != "http" or not path.startswith(self.TENANT_PATHS):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        container = self.container
        authorization = Headers(scope=scope).get("authorization")
        cache = container.key_cache
        try:
            principal = cache.get(authorization)
            if principal is None:
                principal = await run_in_threadpool(
                    authenticate_principal, container.session_factory,
                    container.settings.auth.mode, authorization,
                    known_required=cache.auth_required)
        except LecternError as exc:
            cache.auth_required = True  # only a request that needed a key is refused
            await domain_error_response(exc)(scope, receive, send)
            return
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            error_log.warning("request failed: code=database_unavailable cause=%s request_id=%s",
                              type(exc).__name__, state.get("request_id"))
            await domain_error_response(DatabaseUnavailable())(scope, receive, send)
            return
        if principal.key_id is not None:
            cache.auth_required = True
            cache.put(authorization, principal)
        state["tenant"], state["principal"] = principal.tenant, principal
        await self.app(scope, receive, send)


class UploadLimitMiddleware:
    """Refuse request bodies over `max_body_bytes` without buffering them.

    A declared `Content-Length` over the limit is answered 413 at once, before a byte of the
    body is read. Without one (chunked uploads) the bytes are counted as they arrive and
    `BodyTooLarge` is raised from `receive` as soon as the count passes the limit; FastAPI's
    body parsing re-raises it and the error handlers render the 413 JSON.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            request_id = scope.get("state", {}).get("request_id", "")
            body = error_body(
                "file_too_large",
                f"upload is larger than the limit of {limit} bytes",
                {"limit": limit, "size": int(declared)},
            )
            await _send_json(send, 413, body, request_id)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, received)
            return message

        await self.app(scope, counting_receive, send)
