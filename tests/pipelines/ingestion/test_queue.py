"""The queue's guarded transitions on a real PostgreSQL: SKIP LOCKED claims and lost leases."""

from __future__ import annotations

import time

from sqlalchemy import func, update

from ingest.pipeline import IngestContext, run_ingest
from ingest.sniff import sniff
from ingest.types import Limits
from pipelines.ingestion import Job, Worker
from pipelines.ingestion import queue as job_queue
from pipelines.ingestion.queue import _CLAIM
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import NOTE, QueueDb, markdown_doc


def test_a_claim_in_flight_is_skipped_not_shared(db: QueueDb) -> None:
    first, second = db.submit(markdown_doc(1, "a")), db.submit(markdown_doc(1, "b"))
    holder = db.sessions()
    held = holder.execute(_CLAIM, {"me": "holder", "lease": 30}).first()  # not committed yet
    assert held is not None and held.id == first.id
    with db.sessions() as session:
        other = job_queue.claim(session, worker_id="other", lease_seconds=30)
    assert other is not None and other.id == second.id  # skipped the locked row, did not wait
    with db.sessions() as session:
        assert job_queue.claim(session, worker_id="third", lease_seconds=30) is None
    holder.commit()
    holder.close()
    assert (db.job(first.id).worker_id, db.job(second.id).worker_id) == ("holder", "other")


def test_finish_is_refused_to_a_worker_that_lost_the_job(db: QueueDb) -> None:
    job = db.submit()
    with db.sessions() as session:
        mine = job_queue.claim(session, worker_id="a", lease_seconds=0.01)
    time.sleep(0.05)
    with db.sessions() as session:
        theirs = job_queue.claim(session, worker_id="b", lease_seconds=30)
    assert mine is not None and theirs is not None and mine.id == theirs.id == job.id
    assert theirs.attempts == 2
    result = run_ingest(NOTE, sniff(NOTE, "n.md", Limits()), IngestContext(HashEmbedder()))
    with db.sessions() as session:
        assert not job_queue.renew(session, job=mine, worker_id="a", lease_seconds=30)
        assert not job_queue.finish(session, job=mine, worker_id="a", result=result)
        assert not job_queue.fail(session, job=mine, worker_id="a", error={"code": "x"})
        assert not job_queue.requeue(session, job=mine, worker_id="a", error={"code": "x"})
        assert db.job(job.id).status == "running"
        assert job_queue.finish(session, job=theirs, worker_id="b", result=result)
    doc = db.document(job)
    assert doc is not None and doc.status == "ready" and doc.chunk_count == len(result.chunks)
    assert db.chunk_stats(doc.id) == (len(result.chunks),) * 2


def test_release_gives_the_attempt_back(db: QueueDb) -> None:
    job = db.submit()
    with db.sessions() as session:
        claimed = job_queue.claim(session, worker_id="a", lease_seconds=30)
        assert claimed is not None and db.job(job.id).attempts == 1
        assert job_queue.release(session, job=claimed, worker_id="a")
    released = db.job(job.id)
    assert (released.status, released.attempts, released.worker_id) == ("queued", 0, None)


def test_poison_job_whose_workers_keep_dying_is_failed(db: QueueDb) -> None:
    job = db.submit()
    with db.sessions() as session:
        session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(status="running", attempts=3, worker_id="dead", lease_expires_at=func.now())
        )
        session.commit()
    embedder = HashEmbedder()
    assert Worker(db.sessions, IngestContext(embedder=embedder)).run_once()
    final = db.job(job.id)
    assert final.status == "failed" and final.error is not None
    assert final.error["code"] == "worker_lost" and embedder.calls == []
    doc = db.document(job)
    assert doc is not None and doc.status == "failed"
