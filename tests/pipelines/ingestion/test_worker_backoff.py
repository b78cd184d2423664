"""A worker whose database is unreachable backs off and logs the outage twice (down, back up),
then carries on: deterministic, as the waits are recorded instead of slept (idle waits too:
`Polling` instead of notifications) and the jitter is fixed. The connection errors are real:
the worker's sessions point at a refused port until the "outage" ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from app.db.engine import make_engine, session_factory
from core import Backoff
from ingest.pipeline import IngestContext
from pipelines.ingestion import Worker
from pipelines.ingestion.wakeup import Polling
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import QueueDb
from tests.support.processes import free_port


class RecordedStop(threading.Event):
    """A stop event whose `wait` returns at once and records its timeout; it sets itself
    after `limit` waits, which ends the worker's loop."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.waits: list[float | None] = []
        self.limit = limit

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if len(self.waits) >= self.limit:
            self.set()
        return self.is_set()


class Outage:
    """Sessions of a refused port for the first `failures` sessions, then of `db`."""

    def __init__(self, db: QueueDb, failures: int) -> None:
        self.engine = make_engine(f"postgresql+psycopg://lectern@127.0.0.1:{free_port()}/x")
        self._refused = session_factory(self.engine)
        self._db = db
        self.left = failures

    def __call__(self) -> Session:
        if self.left > 0:
            self.left -= 1
            return self._refused()
        return self._db.sessions()


@pytest.fixture
def outage(db: QueueDb) -> Iterator[Outage]:
    """Nine refused claims, then the database is back."""
    made = Outage(db, failures=9)
    yield made
    made.engine.dispose()


def test_backs_off_while_the_database_is_down_and_logs_each_change_once(
    db: QueueDb, outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    job = db.submit()
    worker = Worker(outage, IngestContext(embedder=HashEmbedder()), worker_id="w1",
                    poll_interval=0.5, backoff=Backoff(0.5, 30.0, rand=lambda: 0.5),
                    wakeup=Polling())
    stop = RecordedStop(limit=11)
    with caplog.at_level(logging.INFO, logger="lectern.worker"):
        worker.run(stop)

    # 9 failed claims: doubling waits up to the cap; then the job; then an idle poll.
    assert stop.waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 0.5, 0.5]
    assert db.job(job.id).status == "succeeded"
    records = [r for r in caplog.records if r.name == "lectern.worker"]
    assert not [r for r in records if r.exc_info], "no traceback for an outage"
    down = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    up = [r.getMessage() for r in records if "working again" in r.getMessage()]
    assert down == ["worker w1: database unavailable (OperationalError); retrying with backoff "
                    "up to 30 s"]
    assert len(up) == 1 and "after 9 failed attempt(s)" in up[0]


def test_an_outage_that_comes_back_starts_from_the_shortest_wait(
    db: QueueDb, outage: Outage
) -> None:
    worker = Worker(outage, IngestContext(embedder=HashEmbedder()), poll_interval=0.25,
                    backoff=Backoff(0.5, 30.0, rand=lambda: 0.5), wakeup=Polling())
    outage.left = 3
    first = RecordedStop(limit=4)
    worker.run(first)
    assert first.waits == [0.5, 1.0, 2.0, 0.25]
    outage.left = 2
    second = RecordedStop(limit=3)
    worker.run(second)
    assert second.waits == [0.5, 1.0, 0.25]
