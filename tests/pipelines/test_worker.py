"""The job worker on a real PostgreSQL: states, retries, lease takeover, SIGKILL, concurrency.

Pipeline logic runs with the deterministic `HashEmbedder` (the worker is what is under test);
the subprocess in the SIGKILL test is a real `Worker` in its own Python process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.database import make_engine, session_factory
from ingest.pipeline import IngestContext
from ingest.tables import ChunkRow, Document
from ingest.types import Limits
from pipelines import ingest_job, job_queue
from pipelines.tables import Job
from pipelines.worker import Worker, start_inprocess_workers
from tests.conftest import DatabaseFactory
from tests.fakes_embedder import HashEmbedder

ROOT = Path(__file__).parents[2]
NOTE = (ROOT / "samples" / "note.md").read_bytes()


class GateEmbedder(HashEmbedder):
    """Blocks inside `embed` until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.gate = threading.Event(), threading.Event()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.entered.set()
        assert self.gate.wait(30), "test never opened the gate"
        return super().embed(texts)


class FlakyEmbedder(HashEmbedder):
    """Raises on its first `failures` calls, then works."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("model fell over")
        return super().embed(texts)


@pytest.fixture
def db(fresh_database_url: DatabaseFactory) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """An isolated database (workers commit from several connections) and its sessions."""
    url = fresh_database_url()
    engine = make_engine(url)
    yield url, session_factory(engine)
    engine.dispose()


def _submit(sessions: sessionmaker[Session], data: bytes = NOTE, tenant: str = "acme") -> Job:
    with sessions() as session:
        sub = ingest_job.submit_document(
            session,
            tenant=tenant,
            collection="default",
            filename="doc.md",
            data=data,
            metadata={},
            limits=Limits(),
        )
    assert sub.job is not None
    return sub.job


def _job(sessions: sessionmaker[Session], job_id: uuid.UUID) -> Job:
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _doc(sessions: sessionmaker[Session], job: Job) -> Document | None:
    with sessions() as session:
        return session.get(Document, job.document_id)


def _chunk_stats(sessions: sessionmaker[Session], document_id: uuid.UUID) -> tuple[int, int]:
    with sessions() as session:
        row = session.execute(
            select(func.count(), func.count(func.distinct(ChunkRow.ordinal))).where(
                ChunkRow.document_id == document_id
            )
        ).one()
    return int(row[0]), int(row[1])


def _markdown(sections: int, tag: str = "") -> bytes:
    parts = [f"# Handbook {tag}\n"]
    for i in range(sections):
        parts.append(f"## Section {i} {tag}\n\n" + f"Rule {i} says the team keeps record {i}. " * 8)
    return "\n".join(parts).encode()


def test_happy_path_succeeds_once_with_progress(db: tuple[str, sessionmaker[Session]]) -> None:
    _, sessions = db
    job = _submit(sessions)
    worker = Worker(sessions, IngestContext(embedder=HashEmbedder()), worker_id="w1")
    assert worker.run_once() and not worker.run_once()
    done = _job(sessions, job.id)
    assert (done.status, done.stage, done.attempts, done.worker_id) == (
        "succeeded",
        "done",
        1,
        "w1",
    )
    assert (done.pages_done, done.pages_total, done.error) == (1, 1, None)
    assert done.finished_at is not None and done.lease_expires_at is None
    doc = _doc(sessions, job)
    assert doc is not None and doc.status == "ready" and doc.page_count == 1
    assert _chunk_stats(sessions, doc.id) == (doc.chunk_count, doc.chunk_count)
    assert doc.chunk_count and doc.chunk_count >= 3  # the note has several sections


def test_bad_content_fails_job_and_document_without_retry(
    db: tuple[str, sessionmaker[Session]],
) -> None:
    _, sessions = db
    job = _submit(sessions, b"%PDF-1.7\n1 0 obj << /Type /Catalog >> truncated")
    assert Worker(sessions, IngestContext(embedder=HashEmbedder())).run_once()
    failed = _job(sessions, job.id)
    assert failed.status == "failed" and failed.attempts == 1
    assert failed.error is not None and failed.error["code"] == "corrupt_document"
    assert set(failed.error) == {"code", "message", "details"} and failed.error["message"]
    doc = _doc(sessions, job)
    assert doc is not None and doc.status == "failed" and doc.error == failed.error


def test_unexpected_errors_retry_then_fail(db: tuple[str, sessionmaker[Session]]) -> None:
    _, sessions = db
    job = _submit(sessions)
    worker = Worker(sessions, IngestContext(embedder=FlakyEmbedder(failures=1)))
    assert worker.run_once()
    retried = _job(sessions, job.id)
    assert (retried.status, retried.attempts, retried.worker_id) == ("queued", 1, None)
    assert retried.error is not None and retried.error["code"] == "internal_error"
    assert worker.run_once()
    assert (_job(sessions, job.id).status, _job(sessions, job.id).attempts) == ("succeeded", 2)

    other = _submit(sessions, _markdown(2))
    broken = Worker(sessions, IngestContext(embedder=FlakyEmbedder(failures=99)))
    for _ in range(3):
        assert broken.run_once()
    final = _job(sessions, other.id)
    assert (final.status, final.attempts) == ("failed", 3)
    assert final.error is not None and "model fell over" in final.error["message"]
    doc = _doc(sessions, other)
    assert doc is not None and doc.status == "failed"
    assert not broken.run_once()  # nothing left: a failed job is never claimed again


def test_stale_worker_cannot_finish_after_takeover(db: tuple[str, sessionmaker[Session]]) -> None:
    """A stalled worker whose lease expired wakes up after another finished: nothing doubles."""
    _, sessions = db
    job = _submit(sessions)
    gate = GateEmbedder()
    stale = Worker(
        sessions,
        IngestContext(embedder=gate),
        worker_id="stale",
        lease_seconds=30,
        heartbeat_interval=3600,
    )
    thread = threading.Thread(target=stale.run_once)
    thread.start()
    assert gate.entered.wait(20)
    with sessions() as session:  # the stalled worker's lease runs out
        session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(lease_expires_at=func.now() - timedelta(seconds=1))
        )
        session.commit()
    fresh = Worker(sessions, IngestContext(embedder=HashEmbedder()), worker_id="fresh")
    assert fresh.run_once()
    gate.gate.set()
    thread.join(20)
    final = _job(sessions, job.id)
    assert (final.status, final.attempts, final.worker_id) == ("succeeded", 2, "fresh")
    doc = _doc(sessions, job)
    assert doc is not None and _chunk_stats(sessions, doc.id) == (doc.chunk_count,) * 2


def test_finish_is_refused_to_a_worker_that_lost_the_job(
    db: tuple[str, sessionmaker[Session]],
) -> None:
    _, sessions = db
    job = _submit(sessions)
    with sessions() as session:
        mine = job_queue.claim(session, worker_id="a", lease_seconds=0.01)
    time.sleep(0.05)
    with sessions() as session:
        theirs = job_queue.claim(session, worker_id="b", lease_seconds=30)
    assert mine is not None and theirs is not None and mine.id == theirs.id == job.id
    from ingest.pipeline import run_ingest
    from ingest.sniff import sniff

    result = run_ingest(NOTE, sniff(NOTE, "n.md", Limits()), IngestContext(HashEmbedder()))
    with sessions() as session:
        assert not job_queue.finish(session, job=mine, worker_id="a", result=result)
        assert not job_queue.fail(session, job=mine, worker_id="a", error={"code": "x"})
        assert job_queue.finish(session, job=theirs, worker_id="b", result=result)
    doc = _doc(sessions, job)
    assert doc is not None and doc.status == "ready"
    assert _chunk_stats(sessions, doc.id) == (len(result.chunks),) * 2


def test_deleted_document_stops_the_job_quietly(db: tuple[str, sessionmaker[Session]]) -> None:
    _, sessions = db
    job = _submit(sessions)
    gate = GateEmbedder()
    worker = Worker(sessions, IngestContext(embedder=gate))
    outcome: list[bool] = []
    thread = threading.Thread(target=lambda: outcome.append(worker.run_once()))
    thread.start()
    assert gate.entered.wait(20)
    with sessions() as session:
        ingest_job.delete_document(session, tenant="acme", document_id=job.document_id)  # type: ignore[arg-type]
    gate.gate.set()
    thread.join(20)
    assert outcome == [True]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ChunkRow)) == 0
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_poison_job_whose_workers_keep_dying_is_failed(
    db: tuple[str, sessionmaker[Session]],
) -> None:
    _, sessions = db
    job = _submit(sessions)
    with sessions() as session:
        session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(status="running", attempts=3, worker_id="dead", lease_expires_at=func.now())
        )
        session.commit()
    embedder = HashEmbedder()
    assert Worker(sessions, IngestContext(embedder=embedder)).run_once()
    final = _job(sessions, job.id)
    assert final.status == "failed" and final.error is not None
    assert final.error["code"] == "worker_lost" and embedder.calls == []


def test_shutdown_releases_the_job_without_spending_an_attempt(
    db: tuple[str, sessionmaker[Session]],
) -> None:
    _, sessions = db
    job = _submit(sessions, _markdown(6))
    gate = GateEmbedder()
    pool = start_inprocess_workers(sessions, IngestContext(embedder=gate, embed_batch=2))
    assert gate.entered.wait(20)
    pool.stop_event.set()
    gate.gate.set()
    assert pool.stop(timeout=20)
    released = _job(sessions, job.id)
    assert (released.status, released.attempts, released.worker_id) == ("queued", 0, None)


def test_two_workers_process_each_job_exactly_once(db: tuple[str, sessionmaker[Session]]) -> None:
    _, sessions = db
    jobs = [_submit(sessions, _markdown(2, tag=f"doc{i}")) for i in range(6)]
    embedder = HashEmbedder()
    pool = start_inprocess_workers(
        sessions, IngestContext(embedder=embedder), count=2, poll_interval=0.05
    )
    try:
        for job in jobs:
            done = ingest_job.wait_for_job(
                sessions, tenant="acme", job_id=job.id, timeout_s=60, poll_s=0.05
            )
            assert (done.status, done.attempts) == ("succeeded", 1)
    finally:
        assert pool.stop(timeout=20)
    assert {_job(sessions, j.id).worker_id for j in jobs} <= {w.worker_id for w in pool.workers}
    headings = [next(t for t in batch if "Handbook" in t) for batch in embedder.calls]
    tags = sorted(h.split("Handbook ")[1].split()[0] for h in headings)
    assert tags == sorted(f"doc{i}" for i in range(6))  # each document embedded exactly once


WORKER_SCRIPT = """
import sys, time
from app.database import make_engine, session_factory
from ingest.pipeline import IngestContext
from pipelines.worker import Worker
from tests.fakes_embedder import HashEmbedder

class SlowEmbedder(HashEmbedder):
    def embed(self, texts):
        time.sleep(0.4)
        return super().embed(texts)

url, worker_id = sys.argv[1], sys.argv[2]
context = IngestContext(embedder=SlowEmbedder(), embed_batch=1)
Worker(session_factory(make_engine(url)), context, worker_id=worker_id, lease_seconds=2.0).run()
"""


def test_sigkilled_worker_job_succeeds_exactly_once(db: tuple[str, sessionmaker[Session]]) -> None:
    url, sessions = db
    job = _submit(sessions, _markdown(12))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, url, "doomed"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _job(sessions, job.id).stage != "embedding":
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the subprocess worker never started embedding"
            time.sleep(0.05)
        running = _job(sessions, job.id)
        assert (running.status, running.worker_id, running.attempts) == ("running", "doomed", 1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    survivor = Worker(
        sessions, IngestContext(embedder=HashEmbedder()), worker_id="survivor", lease_seconds=2.0
    )
    deadline = time.monotonic() + 30
    while not survivor.run_once():  # the dead worker's lease must run out first
        assert time.monotonic() < deadline, "the orphaned job was never reclaimed"
        time.sleep(0.2)
    final = _job(sessions, job.id)
    assert (final.status, final.attempts, final.worker_id) == ("succeeded", 2, "survivor")
    doc = _doc(sessions, job)
    assert doc is not None and doc.status == "ready" and doc.chunk_count
    assert _chunk_stats(sessions, doc.id) == (doc.chunk_count, doc.chunk_count)
    assert not survivor.run_once()  # nothing else to do: it ran exactly once more
