"""Worker threads in this process: `WorkerPool` and `start_inprocess_workers` (what `serve` and
`lectern worker` run), sharing one stop event so that stopping releases every current job.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pipelines.ingestion.worker import ContextSource, SessionFactory, Worker, default_worker_id


class WorkerPool:
    """Worker threads sharing a stop event; `stop()` releases their current jobs and joins."""

    def __init__(self, workers: list[Worker]) -> None:
        self.stop_event = threading.Event()
        self.workers = workers
        self.threads = [
            threading.Thread(target=w.run, args=(self.stop_event,), name=w.worker_id, daemon=True)
            for w in workers
        ]

    def start(self) -> WorkerPool:
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

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_inprocess_workers(
    session_factory: SessionFactory,
    context: ContextSource,
    *,
    count: int = 1,
    name: str = "inprocess",
    **worker_options: Any,
) -> WorkerPool:
    """Start `count` worker threads in this process (what `serve` uses); call `.stop()` at exit.

    `worker_options` go to `Worker` (lease_seconds, poll_interval, ...). A job a thread is
    running at shutdown goes back to the queue at its next progress point, attempt not spent.
    """
    workers = [
        Worker(
            session_factory, context, worker_id=default_worker_id(f"{name}-{i}"), **worker_options
        )
        for i in range(count)
    ]
    return WorkerPool(workers).start()
