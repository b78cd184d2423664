"""`GET /metrics` (Prometheus text format) and the HTTP metrics middleware that feeds it.

Everything lives on the container's `CollectorRegistry` (never the global one): the LLM
layer's collectors (`pipelines.llm.metrics`: attempt latency, time to first token, tokens and
cost by provider/model/task, cache hits, provider errors, fallbacks, budget refusals, breaker
state, and the quality and cost signals by task, model and prompt version: attempts by
outcome, output tokens, cache results, answers by evidence, extraction attempts and
outcomes), the search gate's (`app.search_metrics`: searches waiting and running, time waited),
ingestion's (`app.ingest_metrics`: jobs by final status, pages by method, stage seconds,
queue depth) and the HTTP ones here: request duration and time to the first response byte
(for SSE, the first event: the pipeline's time to first token as a client sees it), by
method, route template and status. Unauthenticated like `/healthz`: no label carries a tenant.
"""

from __future__ import annotations

import os
import time
from weakref import WeakKeyDictionary

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.deps import ContainerDep

router = APIRouter(tags=["metrics"])

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class HttpMetrics:
    """The HTTP collectors of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "http_request_seconds", "HTTP request duration until the response body ended.",
            ["method", "route", "status"], namespace="lectern", registry=registry,
            buckets=_BUCKETS)
        self.first_byte = Histogram(
            "http_first_byte_seconds",
            "Time to the first response body byte (for SSE answers: the first event).",
            ["method", "route"], namespace="lectern", registry=registry, buckets=_BUCKETS)


_BY_REGISTRY: WeakKeyDictionary[CollectorRegistry, HttpMetrics] = WeakKeyDictionary()


def http_metrics(registry: CollectorRegistry) -> HttpMetrics:
    """The HTTP collectors registered on `registry` (created once per registry)."""
    found = _BY_REGISTRY.get(registry)
    if found is None:
        found = _BY_REGISTRY[registry] = HttpMetrics(registry)
    return found


class HttpMetricsMiddleware:
    """Observe every HTTP request's duration and time to first body byte (pure ASGI, so
    streamed responses pass through untouched)."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.metrics = http_metrics(registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        first_byte: float | None = None

        async def observing_send(message: Message) -> None:
            nonlocal status, first_byte
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and first_byte is None:
                first_byte = time.perf_counter() - started
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.duration.labels(method, route, str(status)).observe(
                time.perf_counter() - started)
            if first_byte is not None:
                self.metrics.first_byte.labels(method, route).observe(first_byte)


@router.get("/metrics", include_in_schema=False)
def metrics(container: ContainerDep) -> Response:
    """Every collector of the container's registry, breaker states refreshed first.

    Under `serve --workers N` (`PROMETHEUS_MULTIPROC_DIR` set, see `app.serving.http_workers`) the
    samples every process wrote there, added up, gauges by their `multiprocess_mode`, and the
    ingestion queue's depth as the jobs table has it now.
    """
    llm = container.llm_router
    for provider in llm.providers:
        llm.metrics.breaker_changed(provider, llm.breakers.get(provider).state)
    registry = container.metrics_registry
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()  # fresh, so nothing else registers into it
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(container.queue_depth)  # read from the database, not from files
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
