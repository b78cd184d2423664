"""OpenAI's error shape on the OpenAI-compatible routes, and only there.

lectern answers errors as `{"error": {"code", "message", "details"}}` (`app.errors`); OpenAI
clients expect `{"error": {"message", "type", "param", "code"}}`. Rather than a second set of
handlers, `OpenAIErrorShape` rewrites the finished JSON error responses of `OPENAI_PATHS`:
whatever answered them (the auth gate's 401 and 503, which run before any route; the
validation, domain and database handlers; the 500 catch-all), the status and headers stay
(`Retry-After`, `WWW-Authenticate`, `X-Request-ID`) and the body takes OpenAI's shape. A
validation error becomes 400, as OpenAI answers a bad body, with `param` naming the field.
Successful responses, SSE streams included, pass through untouched and unbuffered; an error
body is small and is buffered only to be rewritten.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPENAI_PATHS = ("/v1/chat/completions", "/v1/models", "/v1/embeddings")
"""The routes whose errors take OpenAI's shape (`/v1/models/{id}` included)."""

_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 402: "insufficient_quota",
          403: "permission_error", 429: "requests"}


def is_openai_path(path: str) -> bool:
    """Whether `path` is one of `OPENAI_PATHS` or below one."""
    return any(path == p or path.startswith(f"{p}/") for p in OPENAI_PATHS)


def error_type(status: int) -> str:
    """OpenAI's error `type` for an HTTP status."""
    if status >= 500:
        return "server_error"
    return _TYPES.get(status, "invalid_request_error")


def openai_error(status: int, message: str, *, code: str | None,
                 param: str | None = None) -> dict[str, Any]:
    """An error body in OpenAI's shape (also the `data:` of an error in a stream)."""
    return {"error": {"message": message, "type": error_type(status), "param": param,
                      "code": code}}


def _param(details: dict[str, Any]) -> str | None:
    """The request field at fault: `param` of a domain error, or a validation error's first
    location without its leading `body`."""
    if isinstance(details.get("param"), str):
        return str(details["param"])
    errors = details.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        loc = [str(part) for part in errors[0].get("loc", [])]
        return ".".join(loc[1:] if loc[:1] == ["body"] else loc) or None
    return None


def reshape(status: int, body: Any) -> tuple[int, dict[str, Any]] | None:
    """OpenAI's status and body for a lectern error body; None when `body` is not one."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or "message" not in error or "type" in error:
        return None
    details = error.get("details")
    details = details if isinstance(details, dict) else {}
    code = str(error.get("code") or "") or None
    if status == 422 and code == "validation_error":
        status = 400
    if status == 401:
        code = "invalid_api_key"
    return status, openai_error(status, str(error["message"]), code=code, param=_param(details))


class OpenAIErrorShape:
    """Pure ASGI middleware: lectern's JSON errors on `OPENAI_PATHS` in OpenAI's shape.

    It must wrap the auth gate (it is added after it in `app.main`), so the gate's refusals
    are rewritten too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "").removeprefix(scope.get("root_path", ""))
        if scope["type"] != "http" or not is_openai_path(path):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        parts: list[bytes] = []

        async def reshaping_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and _is_json_error(message):
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                await _send_reshaped(send, held, b"".join(parts))

        await self.app(scope, receive, reshaping_send)


def _is_json_error(start: Message) -> bool:
    content_type = MutableHeaders(raw=list(start.get("headers", []))).get("content-type", "")
    return int(start["status"]) >= 400 and content_type.startswith("application/json")


async def _send_reshaped(send: Send, start: Message, raw: bytes) -> None:
    """Send the held response, its body in OpenAI's shape when it was lectern's."""
    status = int(start["status"])
    try:
        reshaped = reshape(status, json.loads(raw))
    except ValueError:
        reshaped = None
    if reshaped is not None:
        status, body = reshaped
        raw = json.dumps(body).encode()
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    headers["content-length"] = str(len(raw))
    await send({**start, "status": status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": raw, "more_body": False})
