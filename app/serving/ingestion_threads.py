"""Running ingestion workers from a `Container`: threads inside `serve`, or `lectern worker`.

The workers themselves live in `pipelines.ingestion.worker`; this module only hands them the
container's session factory and ingest context with the settings' concurrency and lease.
"""

from __future__ import annotations

import logging
import threading

from app.container import Container
from pipelines.ingestion import WorkerPool, start_inprocess_workers

log = logging.getLogger("lectern.workers")


def start_inprocess(container: Container, *, name: str = "inprocess") -> WorkerPool:
    """Start `settings.workers.concurrency` worker threads here; `.stop()` them at exit."""
    settings = container.settings
    pool = start_inprocess_workers(
        container.session_factory,
        container.ingest_context(),
        count=settings.workers.concurrency,
        name=name,
        lease_seconds=settings.workers.lease_seconds,
    )
    log.info("started %d ingestion worker thread(s)", settings.workers.concurrency)
    return pool


def run_workers(container: Container, stop: threading.Event) -> None:
    """Run workers until `stop` is set (by a signal handler), then release their jobs."""
    pool = start_inprocess(container, name="worker")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        log.info("stopping workers")
        if not pool.stop():
            log.warning("a worker thread did not stop in time")
