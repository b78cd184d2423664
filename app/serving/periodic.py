"""A task run on a schedule, on a thread of its own: today the answer cache's purge.

Why a thread and not an asyncio task: it must also run in `lectern worker`, which has no
event loop, and the task blocks on the database. `app.serving.ingestion_threads` starts it
next to the ingestion workers, so that it runs once per server (in `serve`, or the parent of
`serve --workers N`) and in each `lectern worker`, never in every HTTP worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core import Backoff, FailureStreak

log = logging.getLogger("lectern.periodic")


class Periodic:
    """Calls `task` once at `start()` and then every `interval_s` seconds until `stop()`.

    A call that raises is tried again sooner, after `backoff`'s delay (default 0.5 s doubling
    up to 30 s, never longer than the interval): the next call may succeed (a database
    restart, say). A run of failures is logged twice, when it starts (one line for an
    unavailable database, else the traceback) and when a call works again. Calls never
    overlap; the wait is counted from the end of one call to the start of the next.
    """

    def __init__(self, name: str, task: Callable[[], object], interval_s: float, *,
                 backoff: Backoff | None = None) -> None:
        if interval_s <= 0:
            raise ValueError(f"{name}: the interval must be positive, not {interval_s}")
        self.name = name
        self.interval_s = interval_s
        self._task = task
        cap = min(30.0, interval_s)
        self.failures = FailureStreak(name, log, backoff or Backoff(min(0.5, cap), cap))
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def tick(self) -> float:
        """Call the task once now, logging (not raising) what it raises; return the seconds
        until the next call: the interval, or after a failure the backoff's shorter delay."""
        try:
            self._task()
        except Exception as exc:
            return min(self.interval_s, self.failures.failed(exc))
        self.failures.succeeded()
        return self.interval_s

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._stopping.wait(self.tick())

    def start(self) -> Periodic:
        """Start the thread (its first call runs at once); returns self."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the schedule, waiting up to `timeout` seconds for a call in progress; True
        if the thread ended."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()
