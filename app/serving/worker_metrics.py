"""`/metrics` of a `lectern worker` process (`LECTERN_WORKER_METRICS_PORT`, `--metrics-port`).

Why: inside `serve`, the in-process workers' ingestion series (jobs by final status, pages by
method, seconds per stage, the queue's depth) are on the API's `/metrics`. In the scale-out
topology (`serve --no-workers` beside `lectern worker` processes, docs/deploy.md) the API
processes ingest nothing, so without this the workers' series would be nowhere. Each worker
serves its container's registry in Prometheus text format on a port of its own, with
prometheus_client's own small HTTP server on a daemon thread; the port answering is also the
worker's liveness check (a worker has no other HTTP endpoint).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import start_http_server

if TYPE_CHECKING:
    import threading
    from wsgiref.simple_server import WSGIServer

    from app.container import Container

log = logging.getLogger("lectern.workers")


@dataclass(frozen=True)
class MetricsServer:
    """The running exporter: its address and how to stop it."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)


def serve_worker_metrics(container: Container, host: str, port: int) -> MetricsServer:
    """Serve `container`'s metrics registry on `host:port` (any path) until `.stop()`."""
    server, thread = start_http_server(port, addr=host, registry=container.metrics_registry)
    bound = int(server.server_address[1])
    log.info("worker metrics on http://%s:%d/metrics", host, bound)
    return MetricsServer(host, bound, server, thread)
