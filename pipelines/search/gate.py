"""Admission control for searches: at most `limit` run at once, the others wait in line.

Why: a search is CPU work for PostgreSQL (10–60 ms at 100k chunks) and the service shares its
cores with it. Started all at once, 200 concurrent questions share the CPU evenly, so every one
of them gets its sources late (processor sharing), and the many busy database backends starve
the event loop that streams the answers already under way. Run in order, `limit` at a time,
the first questions are answered first, the last no later than before, and the streams keep
flowing. The searches run on the gate's own threads, so quick database calls of the LLM layer
(cache, budget, ledger) on the default executor never queue behind them.

A caller cancelled while waiting for its turn leaves the line without running its search.

The gate counts the searches waiting and running and reports them, with each admitted search's
wait, to a `GateObserver` (the composition root hands it the Prometheus collectors; this
module knows nothing of metrics).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

T = TypeVar("T")


class GateObserver(Protocol):
    """Told what a `SearchGate` is doing, e.g. to export it as metrics.

    `counts` is called after every change, under the gate's lock, so successive calls carry
    the numbers in the order they happened; `waited` once per search that got its turn. Both
    are called from the event loop and from the gate's threads: they must be thread-safe,
    quick (no I/O) and must not raise.
    """

    def counts(self, *, waiting: int, running: int) -> None:
        """The searches now waiting for their turn and now running."""

    def waited(self, seconds: float) -> None:
        """A search got its turn after waiting `seconds` in line."""


class _Unobserved:
    """The observer of a gate nobody watches."""

    def counts(self, *, waiting: int, running: int) -> None:
        pass

    def waited(self, seconds: float) -> None:
        pass


def default_limit(cores: int | None = None) -> int:
    """One search per core (at least two): enough to keep a local database busy."""
    return max(2, cores or os.cpu_count() or 2)


class SearchGate:
    """Runs blocking search calls off the event loop, `limit` at a time, first come first
    served."""

    def __init__(self, limit: int | None = None, *, observer: GateObserver | None = None,
                 ) -> None:
        self.limit = limit or default_limit()
        if self.limit < 1:
            raise ValueError(f"a search gate needs a limit of at least 1, not {self.limit}")
        self._executor = ThreadPoolExecutor(self.limit, thread_name_prefix="lectern-search")
        self._observer: GateObserver = observer or _Unobserved()
        self._lock = threading.Lock()
        self.waiting = 0
        """Searches waiting for their turn right now."""
        self.running = 0
        """Searches running right now (at most `limit`)."""

    async def run(self, call: Callable[[], T]) -> T:
        """`call()` on one of the gate's threads, once one is free; its result or exception."""
        queued_at = time.perf_counter()

        def admitted() -> T:
            self._count(waiting=-1, running=+1)
            self._observer.waited(time.perf_counter() - queued_at)
            try:
                return call()
            finally:
                self._count(running=-1)

        self._count(waiting=+1)
        try:
            future = self._executor.submit(admitted)
        except BaseException:
            self._count(waiting=-1)
            raise
        try:
            return await asyncio.wrap_future(future)
        finally:
            # Cancelled (the caller gave up, or `close()` dropped the line) before a thread took
            # it: it never ran, so it leaves the line here. Done or running: `cancel()` is False.
            if future.cancel():
                self._count(waiting=-1)

    def _count(self, *, waiting: int = 0, running: int = 0) -> None:
        with self._lock:
            self.waiting += waiting
            self.running += running
            self._observer.counts(waiting=self.waiting, running=self.running)

    def close(self) -> None:
        """Let running searches finish, drop queued ones, free the threads. Idempotent."""
        self._executor.shutdown(wait=True, cancel_futures=True)
