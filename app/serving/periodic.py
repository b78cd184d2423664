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

log = logging.getLogger("lectern.periodic")


class Periodic:
    """Calls `task` once at `start()` and then every `interval_s` seconds until `stop()`.

    A call that raises is logged and the schedule goes on: the next call may succeed (a
    database restart, say). Calls never overlap; the interval is counted from the end of one
    call to the start of the next.
    """

    def __init__(self, name: str, task: Callable[[], object], interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError(f"{name}: the interval must be positive, not {interval_s}")
        self.name = name
        self.interval_s = interval_s
        self._task = task
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def tick(self) -> None:
        """Call the task once now, logging (not raising) what it raises."""
        try:
            self._task()
        except Exception:
            log.warning("%s failed; next try in %.0f s", self.name, self.interval_s,
                        exc_info=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.tick()
            self._stopping.wait(self.interval_s)

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
