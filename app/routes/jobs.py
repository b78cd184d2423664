"""`/v1/jobs/{id}`: the state of an ingestion job, for polling after an upload."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.deps import SessionDep, TenantDep
from app.schemas import JobOut
from pipelines import ingest_job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}")
def get_job(job_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> JobOut:
    """Status, stage, progress (pages done of total) and error of one of the tenant's jobs."""
    return JobOut.of(ingest_job.get_job(session, tenant=tenant, job_id=job_id))
