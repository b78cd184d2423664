"""Cancelling jobs: a queued job never starts, a running one stops with nothing stored, an
ended one cannot be cancelled, and the same bytes can be queued again afterwards."""

from __future__ import annotations

import threading

import pytest

from ingest.pipeline import IngestContext
from pipelines import ingestion
from pipelines.errors import JobNotFound
from pipelines.ingestion import JobFinished, Worker
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import GateEmbedder, QueueDb, markdown_doc


def test_a_queued_job_is_never_claimed(db: QueueDb) -> None:
    job = db.submit()
    with db.sessions() as session:
        cancelled = ingestion.cancel_job(session, tenant="acme", job_id=job.id)
    assert cancelled.status == "cancelled" and cancelled.error is not None
    assert cancelled.error["code"] == "cancelled" and cancelled.finished_at is not None
    document = db.document(job)
    assert document is not None and (document.status, document.error) == (
        "failed", cancelled.error)
    assert not Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()


def test_a_running_job_stops_with_no_chunks_and_can_be_queued_again(db: QueueDb) -> None:
    data = markdown_doc(6, "cancel")
    job = db.submit(data)
    gate = GateEmbedder()
    worker = Worker(db.sessions, IngestContext(embedder=gate), heartbeat_interval=0.05)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    assert gate.entered.wait(20)  # embedding: the job is running
    with db.sessions() as session:
        assert ingestion.cancel_job(session, tenant="acme", job_id=job.id).status == "cancelled"
    gate.gate.set()
    thread.join(20)
    assert not thread.is_alive()
    final = db.job(job.id)
    assert final.status == "cancelled"
    document = db.document(job)
    assert document is not None and document.status == "failed"
    assert db.chunk_stats(document.id) == (0, 0)

    again = db.submit(data)  # the same bytes: the failed (cancelled) document is re-queued
    assert again.document_id == document.id and again.status == "queued"
    assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
    assert db.job(again.id).status == "succeeded"


def test_an_ended_or_foreign_job_cannot_be_cancelled(db: QueueDb) -> None:
    job = db.submit()
    assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
    with db.sessions() as session, pytest.raises(JobFinished, match="succeeded"):
        ingestion.cancel_job(session, tenant="acme", job_id=job.id)
    with db.sessions() as session, pytest.raises(JobNotFound):
        ingestion.cancel_job(session, tenant="globex", job_id=job.id)
    assert db.job(job.id).status == "succeeded"
