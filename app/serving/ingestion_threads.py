"""Running ingestion workers from a `Container`: threads inside `serve`, or `lectern worker`.

The workers themselves live in `pipelines.ingestion.worker`; this module only hands them the
container's session factory, ingest context and ingestion metrics (their observer) with the
settings' concurrency and lease.
Next to them it runs the process's housekeeping, the answer cache's purge of expired rows
(`LECTERN_CACHE_PURGE_SECONDS`): wherever ingestion workers run, once per server and never
in each HTTP worker of `serve --workers N` (see `app.serving.periodic`), and the webhook
sender, which POSTs due deliveries every second (`pipelines.webhooks`), and the extraction
workers that run `POST /v1/extract` jobs (`LECTERN_QUEUED_LLM_EXTRACT_WORKERS` threads,
`pipelines.extract`).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from app.container import Container
from app.serving.periodic import Periodic
from pipelines.extract import ExtractPool, start_extract_workers
from pipelines.ingestion import WorkerPool, start_inprocess_workers
from pipelines.webhooks import WebhookSender

log = logging.getLogger("lectern.workers")


@dataclass(frozen=True)
class InprocessWorkers:
    """The ingestion worker threads of this process and, beside them, the answer-cache purge,
    the webhook sender and the extraction workers."""

    pool: WorkerPool
    cache_purge: Periodic
    webhook_sender: Periodic
    extract: ExtractPool = field(default_factory=lambda: ExtractPool([]))

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the purge, the sender and the workers (releasing their jobs); True if every
        thread ended within `timeout` seconds."""
        purged = self.cache_purge.stop()
        sent = self.webhook_sender.stop()
        extracted = self.extract.stop(timeout)
        return self.pool.stop(timeout) and purged and sent and extracted


def start_cache_purge(container: Container) -> Periodic:
    """Delete the answer cache's expired rows now and every `cache_purge_seconds`."""
    cache = container.answer_cache

    def purge() -> None:
        deleted = cache.purge_expired()
        if deleted:
            log.info("answer cache: %d expired entries deleted", deleted)

    interval = container.settings.llm.cache_purge_seconds
    return Periodic("answer-cache-purge", purge, interval).start()


def start_webhook_sender(container: Container) -> Periodic:
    """POST the due webhook deliveries now and every `LECTERN_WEBHOOK_INTERVAL_SECONDS`
    (retries wait their backoff), within the `LECTERN_WEBHOOK_*` policy, timeout and guard."""
    hooks = container.settings.webhook
    sender = WebhookSender(container.session_factory, policy=hooks.policy(),
                           guard=hooks.url_guard(), timeout_s=hooks.timeout_seconds)
    return Periodic("webhook-sender", sender.send_due, hooks.interval_seconds).start()


def start_inprocess(container: Container, *, name: str = "inprocess") -> InprocessWorkers:
    """Start `settings.workers.concurrency` worker threads, the cache purge and the webhook
    sender here; `.stop()` them at exit."""
    settings = container.settings
    pool = start_inprocess_workers(
        container.session_factory,
        container.ingest_context(),
        count=settings.workers.concurrency,
        name=name,
        lease_seconds=settings.workers.lease_seconds,
        observer=container.ingest_metrics,
    )
    log.info("started %d ingestion worker thread(s)", settings.workers.concurrency)
    return InprocessWorkers(pool, start_cache_purge(container), start_webhook_sender(container),
                            start_extraction(container, name=name))


def start_extraction(container: Container, *, name: str = "inprocess") -> ExtractPool:
    """Start the extraction worker threads; they use the container's current router."""
    queued = container.settings.queued_llm
    return start_extract_workers(
        container.session_factory, lambda: container.llm_router, container.embedder,
        count=queued.extract_workers, name=name, wait=queued.extract_wait(),
        lease_seconds=container.settings.workers.lease_seconds, environ=os.environ)


def run_workers(container: Container, stop: threading.Event) -> None:
    """Run workers until `stop` is set (by a signal handler), then release their jobs."""
    workers = start_inprocess(container, name="worker")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        log.info("stopping workers")
        if not workers.stop():
            log.warning("a worker thread did not stop in time")
