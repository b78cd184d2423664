"""The job queue's state transitions, each one guarded SQL transaction on the `jobs` table.

States: queued → running (claim) → succeeded | failed; running → queued (retryable error, or a
clean shutdown that gives the attempt back). A claim takes the oldest job that is queued, or
running with an expired lease (its worker died), with `FOR UPDATE SKIP LOCKED`, so concurrent
workers never take the same job. Every later transition is guarded by
`worker_id = me AND status = 'running'` and reports whether it applied: a worker whose lease was
taken over can change nothing. A final transition (finish, fail) also writes the tenant's
webhook delivery, in the same transaction (`outbox`). Each function commits (or rolls back)
its own transaction. Lock order is always document → job, the same order as a document
DELETE's cascade.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Update, func, text, update
from sqlalchemy.orm import Session

from ingest import store
from ingest.pipeline import IngestResult
from ingest.processing_log import processing_log
from pipelines.ingestion import versions
from pipelines.ingestion.job_table import Job
from pipelines.ingestion.outbox import enqueue_delivery
from pipelines.ingestion.wakeup import announce

_CLAIM = text(
    """
    WITH next AS (
        SELECT id FROM jobs
        WHERE kind <> 'extract'  -- extraction jobs have workers of their own (extract_queue)
          AND (status = 'queued' OR (status = 'running' AND lease_expires_at < now()))
        ORDER BY created_at
        FOR UPDATE SKIP LOCKED
        LIMIT 1
    )
    UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, worker_id = :me,
        lease_expires_at = now() + make_interval(secs => :lease), started_at = now(),
        stage = 'reading', pages_done = 0
    FROM next WHERE jobs.id = next.id
    RETURNING jobs.id, jobs.tenant_id, jobs.document_id, jobs.attempts, jobs.max_attempts
    """
)


@dataclass(frozen=True)
class Claimed:
    """The facts of a job a worker holds (`attempts` counts this attempt)."""

    id: uuid.UUID
    tenant_id: str
    document_id: uuid.UUID | None
    attempts: int
    max_attempts: int


def claim(session: Session, *, worker_id: str, lease_seconds: float) -> Claimed | None:
    """Take the oldest claimable job for `worker_id` with a fresh lease, or None."""
    row = session.execute(_CLAIM, {"me": worker_id, "lease": lease_seconds}).first()
    session.commit()
    return None if row is None else Claimed(*row)


def _mine(job: Claimed, worker_id: str) -> Update:
    return update(Job).where(Job.id == job.id, Job.worker_id == worker_id, Job.status == "running")


def renew(
    session: Session, *, job: Claimed, worker_id: str, lease_seconds: float, **values: Any
) -> bool:
    """Extend the lease (and set progress `values`); False if the job is no longer ours."""
    lease = func.now() + timedelta(seconds=lease_seconds)
    result = session.execute(_mine(job, worker_id).values(lease_expires_at=lease, **values))
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _lock_document(session: Session, job: Claimed) -> bool:
    if job.document_id is None:
        return False
    document = store.get_document(
        session, tenant=job.tenant_id, document_id=job.document_id, for_update=True
    )
    return document is not None


def finish(session: Session, *, job: Claimed, worker_id: str, result: IngestResult) -> bool:
    """Write pages, chunks, page warnings and the processing log, mark the document ready and
    the job succeeded (with its chunks reused and embedded), atomically; a job of a new version
    also moves that version's bytes into the document (`versions.apply`), in the same
    transaction. `result.timings` gains "storing": the seconds the writes took, up to the
    commit.

    Returns False, writing nothing, when the job is no longer ours or the document is gone.
    """
    if job.document_id is None:
        return False
    document = store.get_document(
        session, tenant=job.tenant_id, document_id=job.document_id, for_update=True
    )
    pages = len(result.pages)
    won = session.execute(
        _mine(job, worker_id)
        .values(
            status="succeeded",
            stage="done",
            error=None,
            pages_done=pages,
            pages_total=pages,
            finished_at=func.now(),
            lease_expires_at=None,
            chunks_reused=result.chunks_reused,
            chunks_embedded=result.chunks_embedded,
        )
        .returning(Job.id)
    ).first()
    if document is None or won is None:
        session.rollback()
        return False
    started = time.perf_counter()
    versions.apply(session, job_id=job.id, document=document)
    store.write_corpus(
        session,
        document=document,
        pages=result.pages,
        chunks=result.chunks,
        embeddings=result.embeddings,
        warnings=result.warnings,
    )
    result.timings["storing"] = time.perf_counter() - started
    store.set_processing_log(session, tenant=job.tenant_id, document_id=document.id,
                             log=processing_log(result).to_dict())
    enqueue_delivery(session, job_id=job.id)  # the webhook's event commits with the job
    session.commit()
    return True


def fail(session: Session, *, job: Claimed, worker_id: str, error: dict[str, Any]) -> bool:
    """Mark the job and its document failed with `{"code", "message", "details"}`."""
    has_document = _lock_document(session, job)
    won = session.execute(
        _mine(job, worker_id)
        .values(status="failed", error=error, finished_at=func.now(), lease_expires_at=None)
        .returning(Job.id)
    ).first()
    if won is None:
        session.rollback()
        return False
    new_version = versions.discard(session, job_id=job.id)  # the current version stays as is
    if has_document and job.document_id is not None and not new_version:
        store.mark_failed(session, tenant=job.tenant_id, document_id=job.document_id, error=error)
    enqueue_delivery(session, job_id=job.id)
    session.commit()
    return True


def requeue(session: Session, *, job: Claimed, worker_id: str, error: dict[str, Any]) -> bool:
    """Put the job back in the queue after a retryable error, keeping the error for display."""
    result = session.execute(
        _mine(job, worker_id).values(
            status="queued", worker_id=None, lease_expires_at=None, error=error
        )
    )
    announce(session)
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, *, job: Claimed, worker_id: str) -> bool:
    """Give the job back on shutdown without spending an attempt; progress is reset."""
    result = session.execute(
        _mine(job, worker_id).values(
            status="queued",
            worker_id=None,
            lease_expires_at=None,
            attempts=Job.attempts - 1,
            stage=None,
            pages_done=0,
        )
    )
    announce(session)
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]
