"""The embedded server's supervisor on a real cluster: a SIGKILLed postmaster is restarted on
the same URL with its data, and a pooled engine carries on; failed restarts back off.

The cluster lives in a scratch directory of this module's own (outside /root and the repo),
never the shared test server, since its postmaster is killed.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db.embedded import EmbeddedDatabase
from app.db.engine import make_engine
from app.db.supervisor import DatabaseSupervisor
from core import Backoff


@pytest.fixture(scope="module")
def database() -> Iterator[EmbeddedDatabase]:
    """A started embedded server of this module alone; stopped and removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="lectern-supervised-", dir="/tmp"))
    database = EmbeddedDatabase(path)
    database.start()
    yield database
    database.close()
    shutil.rmtree(path, ignore_errors=True)


def _kill_postmaster(database: EmbeddedDatabase) -> int:
    """SIGKILL the postmaster named in the cluster's postmaster.pid; return its pid."""
    pid = int((database.pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while database.running():
        assert time.monotonic() < deadline, "the postmaster outlived SIGKILL"
        time.sleep(0.02)
    return pid


def test_a_killed_postmaster_is_restarted_on_the_same_url_with_its_data(
    database: EmbeddedDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    url = database.url()
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS kept (n int)"))
            conn.execute(sa.text("INSERT INTO kept VALUES (42)"))
        supervisor = DatabaseSupervisor(database)
        assert supervisor.check() == supervisor.interval_s and supervisor.restarts == 0

        killed = _kill_postmaster(database)
        with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        with caplog.at_level(logging.INFO, logger="lectern.database"):
            assert supervisor.check() == supervisor.interval_s
        assert supervisor.restarts == 1 and database.running()
        assert database.pid != killed and database.url() == url
        lines = [r.getMessage() for r in caplog.records if r.name == "lectern.database"]
        assert lines[0] == f"embedded PostgreSQL (pid {killed}) is not running; restarting it"
        assert lines[1].startswith("embedded PostgreSQL restarted in")
        with engine.connect() as conn:  # the same pool, no dispose: pre-ping drops the dead
            assert conn.scalar(sa.text("SELECT sum(n) FROM kept")) == 42
    finally:
        engine.dispose()


def test_the_thread_restarts_it_within_seconds_and_stops(database: EmbeddedDatabase) -> None:
    supervisor = DatabaseSupervisor(database, interval_s=0.1).start()
    try:
        killed = _kill_postmaster(database)
        deadline = time.monotonic() + 30
        while not (database.running() and database.pid != killed):
            assert time.monotonic() < deadline, "not restarted in 30 s"
            time.sleep(0.05)
    finally:
        assert supervisor.stop()
    assert supervisor.restarts == 1


class _Unstartable:
    """A database whose postmaster is gone and cannot be started."""

    pid = 4242

    def __init__(self) -> None:
        self.attempts = 0

    def running(self) -> bool:
        return False

    def restart(self) -> bool:
        self.attempts += 1
        raise RuntimeError("pg_ctl: could not start server")


def test_failing_restarts_back_off_and_log_once(caplog: pytest.LogCaptureFixture) -> None:
    database = _Unstartable()
    supervisor = DatabaseSupervisor(database,  # type: ignore[arg-type]
                                    backoff=Backoff(0.5, 4.0, rand=lambda: 0.5))
    with caplog.at_level(logging.INFO, logger="lectern.database"):
        delays = [supervisor.check() for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0] and database.attempts == 6
    assert [r.levelname for r in caplog.records] == ["WARNING", "ERROR"]
    assert "could not start server" in caplog.text
