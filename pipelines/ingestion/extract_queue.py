"""Extraction jobs on the same queue as ingestion: `jobs` rows of kind "extract".

Why here: the queue's mechanics (claim under `FOR UPDATE SKIP LOCKED` with a lease, renewals
that double as cancellation points, `fail`/`requeue`/`release`, the LISTEN/NOTIFY wakeup, the
webhook delivery written with the job's final state, `cancel_job`) belong to this package; an
extraction job reuses every one of them and adds only its payload, in a table of its own
(`extract_jobs`, one row per job, dropped with it): the request as submitted and the results
so far, one per document. Ingestion workers never claim a job of this kind (`queue._CLAIM`),
and extraction workers claim only this kind (`claim_extract`). Progress is the job's
`pages_done` of `pages_total`, counted in documents. What runs the job is
`pipelines.extract`'s worker, which sits above this package.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, ForeignKey, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import Base
from pipelines.errors import JobNotFound
from pipelines.ingestion import queue as job_queue
from pipelines.ingestion.job_table import Job
from pipelines.ingestion.outbox import enqueue_delivery
from pipelines.ingestion.queue import Claimed
from pipelines.ingestion.wakeup import announce

EXTRACT_KIND = "extract"


class ExtractJobPayload(Base):
    """An extraction job's request and its results so far (a list, one per document)."""

    __tablename__ = "extract_jobs"

    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@dataclass(frozen=True)
class ExtractClaim:
    """A claimed extraction job: the queue's facts, its request and the results kept from an
    earlier attempt (documents already done are not extracted again)."""

    job: Claimed
    request: dict[str, Any]
    results: list[dict[str, Any]]


_CLAIM = text(
    """
    WITH next AS (
        SELECT id FROM jobs
        WHERE kind = 'extract'
          AND (status = 'queued' OR (status = 'running' AND lease_expires_at < now()))
        ORDER BY created_at
        FOR UPDATE SKIP LOCKED
        LIMIT 1
    )
    UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, worker_id = :me,
        lease_expires_at = now() + make_interval(secs => :lease), started_at = now(),
        stage = 'starting'
    FROM next WHERE jobs.id = next.id
    RETURNING jobs.id, jobs.tenant_id, jobs.document_id, jobs.attempts, jobs.max_attempts
    """
)


def submit_extract_job(session: Session, *, tenant: str, request: dict[str, Any],
                       total: int) -> Job:
    """Queue an extraction job of `total` documents with its `request`; commits and wakes
    the listening workers."""
    job = Job(id=uuid.uuid4(), tenant_id=tenant, kind=EXTRACT_KIND, status="queued",
              pages_done=0, pages_total=total, attempts=0)
    session.add(job)
    session.flush()
    session.add(ExtractJobPayload(job_id=job.id, request=request, results=[]))
    announce(session)
    session.refresh(job)  # before the commit: a woken worker may claim it the moment after
    session.commit()
    return job


def claim_extract(session: Session, *, worker_id: str, lease_seconds: float
                  ) -> ExtractClaim | None:
    """Take the oldest claimable extraction job for `worker_id`, or None."""
    row = session.execute(_CLAIM, {"me": worker_id, "lease": lease_seconds}).first()
    if row is None:
        session.commit()
        return None
    job = Claimed(*row)
    payload = session.get(ExtractJobPayload, job.id)
    session.commit()
    if payload is None:  # cannot happen: written with the job
        return ExtractClaim(job, {}, [])
    return ExtractClaim(job, dict(payload.request), list(payload.results or []))


def save_progress(session: Session, *, job: Claimed, worker_id: str, lease_seconds: float,
                  stage: str, done: int, results: list[dict[str, Any]] | None = None) -> bool:
    """Renew the lease with the stage and documents done (and the results so far); False,
    writing nothing, when the job is no longer ours (cancelled, deleted, taken over)."""
    lease = func.now() + timedelta(seconds=lease_seconds)
    won = session.execute(
        update(Job).where(Job.id == job.id, Job.worker_id == worker_id,
                          Job.status == "running")
        .values(lease_expires_at=lease, stage=stage[:200], pages_done=done)
        .returning(Job.id)).first()
    if won is None:
        session.rollback()
        return False
    if results is not None:
        session.execute(update(ExtractJobPayload).where(ExtractJobPayload.job_id == job.id)
                        .values(results=results, updated_at=func.now()))
    session.commit()
    return True


def finish_extract(session: Session, *, job: Claimed, worker_id: str,
                   results: list[dict[str, Any]]) -> bool:
    """Store the results and mark the job succeeded (with its webhook event), atomically;
    False when the job is no longer ours."""
    won = session.execute(
        update(Job).where(Job.id == job.id, Job.worker_id == worker_id,
                          Job.status == "running")
        .values(status="succeeded", stage="done", error=None, pages_done=len(results),
                finished_at=func.now(), lease_expires_at=None)
        .returning(Job.id)).first()
    if won is None:
        session.rollback()
        return False
    session.execute(update(ExtractJobPayload).where(ExtractJobPayload.job_id == job.id)
                    .values(results=results, updated_at=func.now()))
    enqueue_delivery(session, job_id=job.id)
    session.commit()
    return True


def fail_extract(session: Session, *, job: Claimed, worker_id: str, error: dict[str, Any],
                 results: list[dict[str, Any]]) -> bool:
    """Keep the results so far and mark the job failed with `error` (webhook event too)."""
    session.execute(update(ExtractJobPayload).where(ExtractJobPayload.job_id == job.id)
                    .values(results=results, updated_at=func.now()))
    return job_queue.fail(session, job=job, worker_id=worker_id, error=error)


def release_extract(session: Session, *, job: Claimed, worker_id: str) -> bool:
    """Give the job back on shutdown, attempt not spent; its results so far are kept."""
    return job_queue.release(session, job=job, worker_id=worker_id)


def requeue_extract(session: Session, *, job: Claimed, worker_id: str,
                    error: dict[str, Any]) -> bool:
    """Put the job back in the queue after an unexpected error (results so far kept)."""
    return job_queue.requeue(session, job=job, worker_id=worker_id, error=error)


def get_extract_job(session: Session, *, tenant: str, job_id: uuid.UUID
                    ) -> tuple[Job, ExtractJobPayload]:
    """The tenant's extraction job and its payload; JobNotFound (404) otherwise."""
    row = session.execute(
        select(Job, ExtractJobPayload).join(ExtractJobPayload,
                                            ExtractJobPayload.job_id == Job.id)
        .where(Job.id == job_id, Job.tenant_id == tenant, Job.kind == EXTRACT_KIND)).first()
    if row is None:
        raise JobNotFound("extraction job not found", job_id=str(job_id))
    return row[0], row[1]
