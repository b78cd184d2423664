"""Admission control for searches: at most `limit` run at once, the others wait in line.

Why: a search is CPU work for PostgreSQL (10–60 ms at 100k chunks) and the service shares its
cores with it. Started all at once, 200 concurrent questions share the CPU evenly, so every one
of them gets its sources late (processor sharing), and the many busy database backends starve
the event loop that streams the answers already under way. Run in order, `limit` at a time,
the first questions are answered first, the last no later than before, and the streams keep
flowing. The searches run on the gate's own threads, so quick database calls of the LLM layer
(cache, budget, ledger) on the default executor never queue behind them.

A caller cancelled while waiting for its turn leaves the line without running its search.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def default_limit() -> int:
    """One search per core (at least two): enough to keep a local database busy."""
    return max(2, os.cpu_count() or 2)


class SearchGate:
    """Runs blocking search calls off the event loop, `limit` at a time, first come first
    served."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit or default_limit()
        if self.limit < 1:
            raise ValueError(f"a search gate needs a limit of at least 1, not {self.limit}")
        self._executor = ThreadPoolExecutor(self.limit, thread_name_prefix="lectern-search")

    async def run(self, call: Callable[[], T]) -> T:
        """`call()` on one of the gate's threads, once one is free; its result or exception."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        """Let running searches finish, drop queued ones, free the threads. Idempotent."""
        self._executor.shutdown(wait=True, cancel_futures=True)
