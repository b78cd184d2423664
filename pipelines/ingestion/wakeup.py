"""Workers wake when a job is queued instead of finding it at their next poll.

Whoever queues a job (an upload, a retry, a release on shutdown) calls `announce` in the same
transaction: PostgreSQL delivers `NOTIFY lectern_jobs` at commit, to every connection that
`LISTEN`s. Each idle `Worker` waits on its own listening connection (`JobWakeup`) for at most
its poll interval, so a job is claimed within milliseconds of its commit, and polling stays the
fallback (a notification missed while the worker was busy, a listener that cannot connect:
it then sleeps the poll interval, as before, and tries to listen again next time).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

CHANNEL = "lectern_jobs"
STOP_CHECK_S = 0.2
"""How often a waiting worker looks at its stop event."""
log = logging.getLogger("lectern.worker")


class Wakeup(Protocol):
    """How an idle worker waits for the next job."""

    def wait(self, timeout: float, stop: threading.Event) -> None: ...

    def close(self) -> None: ...


class Polling:
    """Waits the whole poll interval (or until stopped): the behaviour without notifications."""

    def wait(self, timeout: float, stop: threading.Event) -> None:
        stop.wait(timeout)

    def close(self) -> None:
        return None


def announce(session: Session) -> None:
    """Tell the listening workers, when `session` commits, that a job is waiting."""
    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class JobWakeup:
    """One worker's listening connection (opened on first use, reopened after a failure)."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory
        self._connection: psycopg.Connection[Any] | None = None

    def _listening(self) -> psycopg.Connection[Any]:
        if self._connection is None:
            with self._session_factory() as session:
                engine = session.get_bind()
            if not isinstance(engine, Engine):
                raise TypeError("the session is not bound to an engine")
            raw = engine.raw_connection()
            driver = raw.driver_connection
            raw.detach()  # LISTEN state must never go back into the pool
            if not isinstance(driver, psycopg.Connection):
                raise TypeError("job wakeups need the psycopg driver")
            driver.autocommit = True
            driver.execute(f"LISTEN {CHANNEL}")
            self._connection = driver
        return self._connection

    @property
    def listening(self) -> bool:
        """Whether the listening connection is open."""
        return self._connection is not None

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Return when a job is announced, `timeout` seconds pass, or `stop` is set (seen
        within `STOP_CHECK_S`)."""
        deadline = time.monotonic() + timeout
        try:
            listening = self._listening()
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if any(True for _ in listening.notifies(timeout=min(left, STOP_CHECK_S),
                                                        stop_after=1)):
                    return
        except Exception as exc:  # the database is away: sleep as a polling worker would
            log.debug("job wakeup unavailable (%s); polling", type(exc).__name__)
            self.close()
            stop.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Close the listening connection, if any."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
