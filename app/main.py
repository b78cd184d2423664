"""The app factory: `create_app(container)` wires routers, error handlers and middleware.

The app never builds its own dependencies; it is handed a `Container` (the CLI builds one
from settings, tests build one against their database) and does not close it: whoever built
the container owns its lifetime. Each API area is a router module under `app.routes`,
registered here.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from app.container import Container
from app.errors import install_error_handlers
from app.mcp import mount as mount_mcp
from app.middleware import (
    AuthGateMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
    UploadLimitMiddleware,
)
from app.openai_compat import OpenAIErrorShape
from app.openapi import install_docs
from app.rate_limit_middleware import (
    AuthThrottleMiddleware,
    RateLimitMiddleware,
    refusal_metrics,
)
from app.rate_limits import RateLimiter
from app.routes import (
    alerts,
    ask,
    conversations,
    documents,
    evals,
    extract,
    feedback,
    health,
    jobs,
    keys,
    metrics,
    openai_chat,
    openai_models,
    page_images,
    prompts,
    search,
    usage,
    webhooks,
)
from app.uploads import FORM_OVERHEAD_BYTES
from app.web import router as web_router

ROUTERS: tuple[APIRouter, ...] = (
    health.router, documents.router, documents.collections_router, page_images.router,
    jobs.router, extract.router, ask.router, conversations.router, evals.router, search.router,
    usage.router, alerts.router, metrics.router, openai_chat.router, openai_models.router,
    keys.router, webhooks.router, feedback.router, prompts.router, web_router)
"""Every router the app serves; a new API area adds its module's `router` here."""


def create_app(container: Container) -> FastAPI:
    """A FastAPI app serving `container`'s database, models and limits."""
    app = FastAPI(
        title="lectern",
        summary="Self-hosted RAG: ingest PDFs and scans, ask with sources, extract data.",
        version="0.1.0",
        docs_url=None,  # served by app.openapi from local assets, not a CDN
        redoc_url=None,
    )
    app.state.container = container
    install_error_handlers(app)
    install_docs(app)  # the document as lectern answers, /docs and /redoc offline
    for router in ROUTERS:
        app.include_router(router)
    mount_mcp(app, container)  # MCP over streamable HTTP at /mcp, behind the auth gate
    # Added last = outermost: the request id exists before the auth gate or the size guard can
    # answer, and the gate refuses a request without a key before the size guard looks at it.
    app.add_middleware(
        UploadLimitMiddleware, max_body_bytes=container.limits.max_bytes + FORM_OVERHEAD_BYTES
    )
    limiter = RateLimiter(container.engine, container.settings.rate,
                          refusal_metrics(container.metrics_registry))
    app.add_middleware(RateLimitMiddleware, limiter=limiter)  # inside the gate: knows the key
    app.add_middleware(AuthGateMiddleware, container=container)
    app.add_middleware(AuthThrottleMiddleware, limiter=limiter)  # outside: sees the gate's 401s
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(OpenAIErrorShape)  # OpenAI's error shape on its routes, the gate's too
    app.add_middleware(metrics.HttpMetricsMiddleware, registry=container.metrics_registry)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: on every response, 500s too
    return app
