"""Cancelling an ingestion job: a queued one never starts, a running one stops at its next
progress update, and nothing of it is stored.

Cancelling sets the job `cancelled` under its row lock, and its document (still processing)
`failed` with the error `cancelled`, so uploading the same bytes again queues it anew. A worker
running the job finds at its next heartbeat or progress write that the job is no longer its
own and stops without writing (chunks are only ever written with the job's final commit, so
none of a cancelled job's exist). A job of a new version only drops that version's bytes:
its document stays as it was, searchable. A job that already ended is 409 `job_finished`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingest import store
from pipelines.errors import JobNotFound, PipelineError
from pipelines.ingestion import versions
from pipelines.ingestion.job_table import Job
from pipelines.ingestion.outbox import enqueue_delivery

CANCELLED = {"code": "cancelled", "message": "ingestion was cancelled", "details": {}}


class JobFinished(PipelineError):
    """The job already ended (succeeded, failed or cancelled): there is nothing to cancel."""

    code = "job_finished"
    http_status = 409


def cancel_job(session: Session, *, tenant: str, job_id: uuid.UUID) -> Job:
    """Cancel the tenant's queued or running job (see the module docstring); commits."""
    job = session.scalar(select(Job).where(Job.id == job_id, Job.tenant_id == tenant)
                         .with_for_update())
    if job is None:
        session.rollback()
        raise JobNotFound("job not found", job_id=str(job_id))
    if job.status not in ("queued", "running"):
        status = job.status
        session.rollback()
        raise JobFinished(f"the job already {status}", status=status)
    job.status, job.error = "cancelled", CANCELLED
    job.finished_at, job.lease_expires_at = func.now(), None
    new_version = versions.discard(session, job_id=job.id)  # the current version stays
    if job.document_id is not None and not new_version:
        document = store.get_document(session, tenant=tenant, document_id=job.document_id,
                                      for_update=True)
        if document is not None and document.status == "processing":
            document.status, document.error = "failed", CANCELLED
    enqueue_delivery(session, job_id=job.id)  # job.cancelled commits with the job
    session.commit()
    session.refresh(job)
    return job
