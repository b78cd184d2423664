"""`/v1/jobs`: the state of an ingestion job, for polling after an upload, and the listing."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from app.deps import Limit, Offset, SessionDep, TenantDep
from app.schemas import JobOut, Listing, listing
from pipelines import ingestion
from pipelines.ingestion import JOB_STATUSES

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("")
def list_jobs(
    session: SessionDep,
    tenant: TenantDep,
    document_id: uuid.UUID | None = None,
    status: str | None = Query(default=None, pattern=f"^({'|'.join(JOB_STATUSES)})$"),
    limit: Limit = 50,
    offset: Offset = 0,
) -> Listing[JobOut]:
    """The tenant's jobs, newest first, optionally of one document or status."""
    listed = ingestion.list_jobs(
        session, tenant=tenant, document_id=document_id, status=status, limit=limit, offset=offset
    )
    return listing(listed, JobOut.of, limit=limit, offset=offset)


@router.post("/{job_id}/cancel")
def cancel_job(job_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> JobOut:
    """Stop a queued or running job (409 `job_finished` once it ended); its document is left
    `failed` with the error `cancelled`, with nothing of the job stored."""
    return JobOut.of(ingestion.cancel_job(session, tenant=tenant, job_id=job_id))


@router.get("/{job_id}")
def get_job(job_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> JobOut:
    """Status, stage, progress (pages done of total) and error of one of the tenant's jobs."""
    return JobOut.of(ingestion.get_job(session, tenant=tenant, job_id=job_id))
