"""Extraction worker threads in this process (`start_extract_workers`), beside ingestion's.

They share one stop event, so that stopping gives every current job back to the queue (its
results so far kept), as `pipelines.ingestion.WorkerPool` does for ingestion workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from ingest.embedding import Embedder
from pipelines.extract.worker import ExtractWorker, SessionFactory
from pipelines.ingestion import ProviderWait, default_worker_id
from pipelines.llm import Router


class ExtractPool:
    """Extraction worker threads sharing a stop event."""

    def __init__(self, workers: list[ExtractWorker]) -> None:
        self.stop_event = threading.Event()
        self.workers = workers
        self.threads = [threading.Thread(target=w.run, args=(self.stop_event,),
                                         name=w.worker_id, daemon=True) for w in workers]

    def start(self) -> ExtractPool:
        """Start every worker thread."""
        for thread in self.threads:
            thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask workers to stop, wait up to `timeout` seconds; True if all threads ended."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self.threads)


def start_extract_workers(session_factory: SessionFactory, router: Callable[[], Router | None],
                          embedder: Embedder, *, count: int = 1, name: str = "inprocess",
                          wait: ProviderWait | None = None, lease_seconds: float = 30.0,
                          environ: Mapping[str, str] | None = None) -> ExtractPool:
    """Start `count` extraction worker threads here; call `.stop()` at exit."""
    workers = [ExtractWorker(session_factory, router, embedder, wait=wait,
                             worker_id=default_worker_id(f"{name}-extract-{i}"),
                             lease_seconds=lease_seconds, environ=environ)
               for i in range(count)]
    return ExtractPool(workers).start()
