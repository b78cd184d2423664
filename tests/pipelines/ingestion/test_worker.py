"""The in-process worker on a real PostgreSQL: outcomes, retries, takeover, deletion, shutdown.

Pipeline logic runs with the deterministic `HashEmbedder`: the worker is what is under test.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from ingest.corpus import ChunkRow
from ingest.pipeline import IngestContext
from pipelines import ingestion
from pipelines.ingestion import Job, Worker, start_inprocess_workers
from pipelines.ingestion import queue as job_queue
from pipelines.ingestion.worker import _Lease
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import FlakyEmbedder, GateEmbedder, QueueDb, markdown_doc
from tests.support.waiting import until


def test_happy_path_succeeds_once_with_progress(db: QueueDb) -> None:
    job = db.submit()
    worker = Worker(db.sessions, IngestContext(embedder=HashEmbedder()), worker_id="w1")
    assert worker.run_once() and not worker.run_once()
    done = db.job(job.id)
    assert (done.status, done.stage, done.attempts, done.worker_id) == (
        "succeeded",
        "done",
        1,
        "w1",
    )
    assert (done.pages_done, done.pages_total, done.error) == (1, 1, None)
    assert done.finished_at is not None and done.lease_expires_at is None
    doc = db.document(job)
    assert doc is not None and doc.status == "ready" and doc.page_count == 1
    assert db.chunk_stats(doc.id) == (doc.chunk_count, doc.chunk_count)
    assert doc.chunk_count and doc.chunk_count >= 3  # the note has several sections


def test_bad_content_fails_job_and_document_without_retry(db: QueueDb) -> None:
    job = db.submit(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> truncated")
    assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
    failed = db.job(job.id)
    assert failed.status == "failed" and failed.attempts == 1
    assert failed.error is not None and failed.error["code"] == "corrupt_document"
    assert set(failed.error) == {"code", "message", "details"} and failed.error["message"]
    doc = db.document(job)
    assert doc is not None and doc.status == "failed" and doc.error == failed.error


def test_unexpected_errors_retry_then_fail(db: QueueDb) -> None:
    job = db.submit()
    worker = Worker(db.sessions, IngestContext(embedder=FlakyEmbedder(failures=1)))
    assert worker.run_once()
    retried = db.job(job.id)
    assert (retried.status, retried.attempts, retried.worker_id) == ("queued", 1, None)
    assert retried.error is not None and retried.error["code"] == "internal_error"
    assert worker.run_once()
    assert (db.job(job.id).status, db.job(job.id).attempts) == ("succeeded", 2)

    other = db.submit(markdown_doc(2))
    broken = Worker(db.sessions, IngestContext(embedder=FlakyEmbedder(failures=99)))
    for _ in range(3):
        assert broken.run_once()
    final = db.job(other.id)
    assert (final.status, final.attempts) == ("failed", 3)
    assert final.error is not None and "model fell over" in final.error["message"]
    doc = db.document(other)
    assert doc is not None and doc.status == "failed"
    assert not broken.run_once()  # nothing left: a failed job is never claimed again


def test_stale_worker_cannot_finish_after_takeover(db: QueueDb) -> None:
    """A stalled worker whose lease expired wakes up after another finished: nothing doubles."""
    job = db.submit()
    gate = GateEmbedder()
    stale = Worker(
        db.sessions, IngestContext(embedder=gate), worker_id="stale", heartbeat_interval=3600
    )
    thread = threading.Thread(target=stale.run_once)
    thread.start()
    assert gate.entered.wait(20)
    with db.sessions() as session:  # the stalled worker's lease runs out
        expired = func.now() - timedelta(seconds=1)
        session.execute(update(Job).where(Job.id == job.id).values(lease_expires_at=expired))
        session.commit()
    fresh = Worker(db.sessions, IngestContext(embedder=HashEmbedder()), worker_id="fresh")
    assert fresh.run_once()
    gate.gate.set()
    thread.join(20)
    final = db.job(job.id)
    assert (final.status, final.attempts, final.worker_id) == ("succeeded", 2, "fresh")
    doc = db.document(job)
    assert doc is not None and db.chunk_stats(doc.id) == (doc.chunk_count,) * 2


def test_deleted_document_stops_the_job_quietly(db: QueueDb) -> None:
    job = db.submit()
    assert job.document_id is not None
    gate = GateEmbedder()
    worker = Worker(db.sessions, IngestContext(embedder=gate))
    outcome: list[bool] = []
    thread = threading.Thread(target=lambda: outcome.append(worker.run_once()))
    thread.start()
    assert gate.entered.wait(20)
    with db.sessions() as session:
        ingestion.delete_document(session, tenant="acme", document_id=job.document_id)
    gate.gate.set()
    thread.join(20)
    assert outcome == [True]
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ChunkRow)) == 0
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_shutdown_releases_the_job_without_spending_an_attempt(db: QueueDb) -> None:
    job = db.submit(markdown_doc(6))
    gate = GateEmbedder()
    pool = start_inprocess_workers(db.sessions, IngestContext(embedder=gate, embed_batch=2))
    assert gate.entered.wait(20)
    assert db.job(job.id).stage == "embedding"
    pool.stop_event.set()
    gate.gate.set()
    assert pool.stop(timeout=20)
    released = db.job(job.id)
    assert (released.status, released.attempts, released.worker_id) == ("queued", 0, None)
    assert released.stage is None and released.pages_done == 0


def test_two_workers_process_each_job_exactly_once(db: QueueDb) -> None:
    jobs = [db.submit(markdown_doc(2, tag=f"doc{i}")) for i in range(6)]
    embedder = HashEmbedder()
    pool = start_inprocess_workers(
        db.sessions, IngestContext(embedder=embedder), count=2, poll_interval=0.05
    )
    try:
        for job in jobs:
            done = ingestion.wait_for_job(
                db.sessions, tenant="acme", job_id=job.id, timeout_s=60, poll_s=0.05
            )
            assert (done.status, done.attempts) == ("succeeded", 1)
    finally:
        assert pool.stop(timeout=20)
    assert {db.job(j.id).worker_id for j in jobs} <= {w.worker_id for w in pool.workers}
    headings = [next(t for t in batch if "Handbook" in t) for batch in embedder.calls]
    tags = sorted(h.split("Handbook ")[1].split()[0] for h in headings)
    assert tags == sorted(f"doc{i}" for i in range(6))  # each document embedded exactly once


def test_a_heartbeat_after_the_jobs_own_end_is_not_a_lost_lease(
    db: QueueDb, caplog: pytest.LogCaptureFixture
) -> None:
    """The final commit makes the job no longer `running`; a beat in the moment before the
    lease is closed used to log "lease lost" for every such job (real filings, 2 of 4)."""
    job = db.submit()
    worker = Worker(db.sessions, IngestContext(embedder=HashEmbedder()), worker_id="w",
                    heartbeat_interval=0.01)
    with db.sessions() as session:
        claimed = job_queue.claim(session, worker_id="w", lease_seconds=30)
    assert claimed is not None and claimed.id == job.id
    warnings = caplog.at_level(logging.WARNING, logger="lectern.worker")
    with warnings, _Lease(worker, claimed) as lease:
        with db.sessions() as session:  # what finish() commits
            session.execute(update(Job).where(Job.id == job.id).values(status="succeeded"))
            session.commit()
        asyncio.run(until(lease.lost.is_set, what="a refused heartbeat"))
    assert not [r for r in caplog.records if "lease lost" in r.getMessage()]


def test_a_lease_taken_by_another_worker_is_reported_lost(
    db: QueueDb, caplog: pytest.LogCaptureFixture
) -> None:
    job = db.submit()
    worker = Worker(db.sessions, IngestContext(embedder=HashEmbedder()), worker_id="w",
                    heartbeat_interval=0.01)
    with db.sessions() as session:
        claimed = job_queue.claim(session, worker_id="w", lease_seconds=30)
    assert claimed is not None
    with caplog.at_level(logging.WARNING, logger="lectern.worker"), _Lease(worker, claimed):
        with db.sessions() as session:
            session.execute(update(Job).where(Job.id == job.id).values(worker_id="thief"))
            session.commit()
        asyncio.run(until(lambda: any("lease lost" in r.getMessage() for r in caplog.records),
                          timeout=15, what="the lease-lost warning"))
