"""The OpenAPI document as lectern really answers, and its Swagger UI and ReDoc pages served
from locally installed assets.

FastAPI's own document says what the route signatures say: a 422 of `{"detail": ...}` (lectern
answers `{"error": {"code", "message", "details"}}`, `app.errors`), `/v1/ask` as JSON with
schema `{}` (it streams SSE), no authentication and few examples; and its `/docs` and `/redoc`
load their JavaScript and CSS from a CDN, so they are blank offline. `install_docs` replaces
both: the document is FastAPI's, rewritten once by `lectern_openapi` (the error bodies on
every 4xx/5xx, OpenAI's shape on the OpenAI-compatible routes, the rate-limit headers on 429,
a Bearer security scheme on the gated paths, request examples from `app.openapi_examples`,
`text/event-stream` with its events for `/v1/ask`); the pages use the assets the
`fastapi-offline` package ships, served under `/docs/assets/`.
"""

from __future__ import annotations

import copy
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response

from app.errors import ApiError
from app.middleware import AuthGateMiddleware
from app.openai_compat import is_openai_path
from app.openapi_examples import (
    ASK_EVENT_FIELDS,
    ASK_EVENTS,
    ASK_STREAM_EXAMPLE,
    ERROR_SCHEMA,
    OPENAI_ERROR_SCHEMA,
    RATE_LIMIT_HEADERS,
    REQUEST_EXAMPLES,
    STATUS_TEXT,
)

ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
"""The files of `fastapi_offline/static` that the pages load, with their media types."""

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_OPENAI_ERROR_REF = {"$ref": "#/components/schemas/OpenAIError"}
_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")
_DESCRIPTION = (
    "Requests under `/v1/` carry `Authorization: Bearer <key>` once keys are in use. Every "
    "error is `{\"error\": {\"code\", \"message\", \"details\"}}`, except on the OpenAI-"
    "compatible routes (`/v1/chat/completions`, `/v1/models`, `/v1/embeddings`), which answer "
    "in OpenAI's shape. A 429 carries `Retry-After` and `X-RateLimit-Limit/Remaining/Reset`.")

router = APIRouter(include_in_schema=False)


def _error_response(status: int, openai: bool) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": STATUS_TEXT.get(status, "Error"),
        "content": {"application/json": {"schema": _OPENAI_ERROR_REF if openai else _ERROR_REF}}}
    if status == 429:
        response["headers"] = RATE_LIMIT_HEADERS
    elif status == 503:
        response["headers"] = {"Retry-After": RATE_LIMIT_HEADERS["Retry-After"]}
    return response


def _statuses(path: str, method: str, op: dict[str, Any], openai: bool) -> list[int]:
    """The error statuses an operation may answer, as the middleware and handlers do."""
    gated = path.startswith(AuthGateMiddleware.TENANT_PATHS)
    validated = "422" in op["responses"] or "requestBody" in op or "parameters" in op
    found = [400 if openai else 422] if validated else []
    if gated:
        found += [401, 429]
    if "{" in path:
        found.append(404)
    if path.startswith("/v1/keys"):
        found.append(403)
    if method in ("post", "put", "patch") and path in ("/v1/documents", "/v1/extract"):
        found.append(413)
    if path in ("/v1/ask", "/v1/extract", "/v1/chat/completions"):
        found += [402, 502]
    return [*found, 500, 503]


def _example(doc: dict[str, Any], method: str, path: str, content_type: str,
             media: dict[str, Any]) -> None:
    """Give a request body's media type an example: the table's, else its schema's first."""
    if "example" in media or "examples" in media:
        return
    given = REQUEST_EXAMPLES.get((method, path), {}).get(content_type)
    if given is None:
        ref = str(media.get("schema", {}).get("$ref", ""))
        schema = doc["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else {}
        given = (schema.get("examples") or [None])[0]
    if given is not None:
        media["example"] = copy.deepcopy(given)


def _ask_stream(op: dict[str, Any]) -> None:
    """`POST /v1/ask` answers SSE by default, one JSON object with `"stream": false`."""
    op["responses"]["200"] = {"description": ASK_EVENTS, "content": {
        "text/event-stream": {"schema": {"type": "string", "description": ASK_EVENTS},
                              "example": ASK_STREAM_EXAMPLE,
                              "x-events": {k: list(v) for k, v in ASK_EVENT_FIELDS.items()}},
        "application/json": {"schema": {
            "type": "object", "description": "`\"stream\": false`: the events collected",
            "properties": {name: {} for name in ("meta", "sources", "answer", "usage",
                                                 "finish_reason", "handovers", "error")}}}}}


def lectern_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, rewritten as described above; built once per app."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary,
                      description=_DESCRIPTION, routes=app.routes)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_ERRORS:
        schemas.pop(name, None)
    schemas["Error"], schemas["OpenAIError"] = ERROR_SCHEMA, OPENAI_ERROR_SCHEMA
    components["securitySchemes"] = {"bearerAuth": {
        "type": "http", "scheme": "bearer",
        "description": "An API key (`lk_...`) from `lectern keys create` or `POST /v1/keys`"}}
    for path, operations in doc.get("paths", {}).items():
        openai = is_openai_path(path)
        for method, op in operations.items():
            statuses = _statuses(path, method, op, openai)
            op["responses"].pop("422", None)
            for status in statuses:
                op["responses"].setdefault(str(status), _error_response(status, openai))
            if path.startswith(AuthGateMiddleware.TENANT_PATHS):
                op["security"] = [{"bearerAuth": []}]
            for content_type, media in op.get("requestBody", {}).get("content", {}).items():
                _example(doc, method, path, content_type, media)
            if (method, path) == ("post", "/v1/ask"):
                _ask_stream(op)
    app.openapi_schema = doc
    return doc


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over this app's document, with no file from elsewhere."""
    return get_swagger_ui_html(
        openapi_url=str(request.app.openapi_url), title="lectern API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.png",
        swagger_ui_parameters={"validatorUrl": None})  # no badge fetched from a validator


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over this app's document, without web fonts or any file from elsewhere."""
    return get_redoc_html(openapi_url=str(request.app.openapi_url), title="lectern API",
                          redoc_js_url="/docs/assets/redoc.standalone.js",
                          redoc_favicon_url="/docs/assets/favicon.png", with_google_fonts=False)


@router.get("/docs/assets/{name}")
def asset(name: str) -> Response:
    """One of `ASSETS`, read from the installed `fastapi_offline` package."""
    if name not in ASSETS:
        raise ApiError(404, "not_found", f"no asset {name}")
    data = (files("fastapi_offline") / "static" / name).read_bytes()
    return Response(data, media_type=ASSETS[name])


def install_docs(app: FastAPI) -> None:
    """Serve `lectern_openapi` at the app's `openapi_url` and the offline `/docs` and
    `/redoc` (create the app with `docs_url=None, redoc_url=None`)."""

    def openapi() -> dict[str, Any]:
        return lectern_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(router)
