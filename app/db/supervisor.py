"""Keeping the embedded PostgreSQL up: `DatabaseSupervisor` restarts its postmaster when it dies.

Why: with no `LECTERN_DATABASE_URL` the database is lectern's own child, so nobody else would
bring it back after an OOM kill, a crash or a stray `kill -9`; until then every request would
be 503 and the workers would wait forever. A thread checks the postmaster every second (its
pid, and that it is the postgres serving this cluster: cheap, no connection) and restarts it
(`EmbeddedDatabase.restart`, one at a time across processes by the server lock), backing off
while restarts fail. Engines need nothing: they check connections before use
(`pool_pre_ping`), so the first checkout after the restart drops the dead ones.

Only a process that started (or reused) the embedded server supervises it: `serve`, the parent
of `serve --workers N` (its HTTP workers get the URL and never start the server), and each
`lectern worker`; a server another process also supervises is restarted once, the others adopt.
"""

from __future__ import annotations

import logging
import threading
import time

from app.db.embedded import EmbeddedDatabase
from core import Backoff, FailureStreak

log = logging.getLogger("lectern.database")

CHECK_INTERVAL_S = 1.0
"""How often the supervisor looks at the postmaster."""


class DatabaseSupervisor:
    """Checks `database`'s postmaster every `interval_s` seconds on a thread of its own and
    restarts it when it is gone; `restarts` counts the restarts this supervisor made.

    A failed restart is tried again after `backoff`'s delay (default 0.5 s doubling up to
    30 s); the death, the restart and a run of failed restarts are each logged once.
    """

    def __init__(self, database: EmbeddedDatabase, *, interval_s: float = CHECK_INTERVAL_S,
                 backoff: Backoff | None = None) -> None:
        self.database = database
        self.interval_s = interval_s
        self.restarts = 0
        self.failures = FailureStreak("embedded PostgreSQL restart", log, backoff)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="database-supervisor",
                                        daemon=True)

    def check(self) -> float:
        """Restart the server if its postmaster is gone; return the seconds until the next
        check (the interval, or the backoff's delay after a failed restart)."""
        if self.database.running():
            return self.interval_s
        if not self.failures.failures:
            log.warning("embedded PostgreSQL (pid %d) is not running; restarting it",
                        self.database.pid)
        started = time.perf_counter()
        try:
            started_here = self.database.restart()
        except Exception as exc:
            return self.failures.failed(exc)
        self.failures.succeeded()
        if started_here:
            self.restarts += 1
            log.warning("embedded PostgreSQL restarted in %.1f s (pid %d)",
                        time.perf_counter() - started, self.database.pid)
        else:
            log.info("embedded PostgreSQL was restarted by another process (pid %d)",
                     self.database.pid)
        return self.interval_s

    def _run(self) -> None:
        delay = self.interval_s
        while not self._stopping.wait(delay):
            delay = self.check()

    def start(self) -> DatabaseSupervisor:
        """Start the supervising thread (first check after one interval); returns self."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop supervising, waiting for a restart in progress; True if the thread ended.
        Call it before the database is closed, or the supervisor would start it again."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()
