"""The ingestion use case as the API and CLI see it: submit, inspect, list, delete, wait.

`submit_document` validates the bytes (before anything is stored), deduplicates by sha256 per
tenant and collection, and queues a job that a worker (`pipelines.ingestion.worker`) runs.
Everything else is a tenant-checked wrapper over `ingest.store` and the jobs table: another
tenant's document or job is "not found" (404), never "forbidden", so ids leak nothing.
Functions that write commit their own transaction, so a queued job is visible to workers as
soon as the call returns.

Dedup rules for the same bytes in the same tenant and collection:
- existing document processing or ready → that document, no new job (`created=False`);
- existing document failed → it is re-queued with a fresh job (`created=True`): a failure may
  have been transient or fixed by an upgrade, and the user asked again; its filename and
  metadata are replaced by the new upload's.

A new version of an existing document (by id, or by the client's `external_id`) is
`pipelines.ingestion.versions`' business.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingest import store
from ingest.corpus import ChunkRow, Document, Page
from ingest.errors import InvalidMetadata
from ingest.sniff import sniff
from ingest.storable import json_problem, storable_text
from ingest.store import Counted
from ingest.types import Limits, Sniffed
from pipelines.errors import DocumentNotFound, JobNotFound, JobWaitTimeout, PipelineError
from pipelines.ingestion.job_table import Job
from pipelines.ingestion.wakeup import announce

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
UploadOutcome = Literal["created", "duplicate", "requeued", "version", "unchanged"]
"""What an upload did: a new document; the same bytes already stored (no job); a failed copy
queued again; a new version of a document queued; bytes identical to the document's current
version (no job)."""


class ExternalIdTaken(PipelineError):
    """Another upload gave a new document this `external_id` first (the caller then makes the
    upload a new version of that document)."""

    code = "external_id_taken"
    http_status = 409


@dataclass(frozen=True)
class Submission:
    """The outcome of an upload: the document, its new job (None when nothing was queued),
    whether a job was queued (`created`), and what the upload did (`outcome`)."""

    document: Document
    job: Job | None
    created: bool
    outcome: UploadOutcome = "created"


def check_metadata(metadata: dict[str, Any] | None) -> None:
    """`InvalidMetadata` (422) for metadata that could not be stored and served back whole
    (None: none given, nothing to check)."""
    if metadata is not None and (problem := json_problem(metadata)) is not None:
        raise InvalidMetadata(f"metadata: {problem}")


def check_upload(data: bytes, filename: str, metadata: dict[str, Any] | None,
                 limits: Limits) -> tuple[Sniffed, str, str]:
    """An upload checked before anything is stored: what its bytes are (`IngestError` 4xx
    when empty, unsupported or too large), its file name made storable, and its SHA-256."""
    check_metadata(metadata)
    sniffed = sniff(data, filename, limits)
    return sniffed, storable_text(filename), hashlib.sha256(data).hexdigest()


def new_job(
    session: Session, document: Document, max_attempts: int, version: int | None = None
) -> Job:
    """Add a queued ingest job for `document` writing its `version` (default: its current one),
    flushed, and wake the workers once the caller commits."""
    job = Job(
        id=uuid.uuid4(),
        tenant_id=document.tenant_id,
        kind="ingest",
        document_id=document.id,
        status="queued",
        pages_done=0,
        attempts=0,
        max_attempts=max_attempts,
        version=document.version if version is None else version,
    )
    session.add(job)
    session.flush()
    announce(session)
    return job


def committed(
    session: Session, document: Document, job: Job | None, outcome: UploadOutcome
) -> Submission:
    """Load server-side defaults so the rows read fine after the session ends, then commit.

    The rows are read inside the transaction, as it wrote them: after the commit a worker the
    notification woke may already have claimed the job, and the answer must show it queued.
    """
    session.refresh(document)
    if job is not None:
        session.refresh(job)
    session.commit()
    return Submission(document=document, job=job, created=job is not None, outcome=outcome)


def requeue(
    session: Session, document: Document, filename: str, metadata: dict[str, Any], max_attempts: int
) -> Submission:
    """Give a failed document (locked by the caller) another go with a fresh job (see the
    module docstring); commits."""
    document.status, document.error = "processing", None
    document.filename, document.metadata_ = filename, dict(metadata)
    job = new_job(session, document, max_attempts)
    return committed(session, document, job, "requeued")


def submit_document(
    session: Session,
    *,
    tenant: str,
    collection: str,
    filename: str,
    data: bytes,
    metadata: dict[str, Any],
    limits: Limits,
    max_attempts: int = 3,
    external_id: str | None = None,
) -> Submission:
    """Store an upload and queue its ingestion, or return the existing copy of the same bytes.

    `external_id` names the new document for the client; when another upload took it first,
    `ExternalIdTaken` (nothing is stored).

    Raises `IngestError` (4xx) for empty, unsupported or oversized input before storing
    anything. Two concurrent identical uploads end with one document: the loser of the
    unique-constraint race returns the winner's document with `created=False`. The file name
    is made storable (`ingest.storable`): a local file may be named with any characters. Metadata
    that could not be stored and served back whole raises `InvalidMetadata` (422). Commits.
    """
    sniffed, filename, digest = check_upload(data, filename, metadata, limits)
    for _ in range(3):
        existing = store.find_by_sha256(
            session, tenant=tenant, collection=collection, sha256=digest
        )
        if existing is not None:
            if existing.status != "failed":
                return Submission(document=existing, job=None, created=False,
                                  outcome="duplicate")
            locked = store.get_document(
                session, tenant=tenant, document_id=existing.id, for_update=True
            )
            if locked is None:  # deleted meanwhile: try again from the top
                session.rollback()
                continue
            session.refresh(locked)
            if locked.status != "failed":  # someone else re-queued it first
                session.commit()
                return Submission(document=locked, job=None, created=False,
                                  outcome="duplicate")
            return requeue(session, locked, filename, metadata, max_attempts)
        try:
            with session.begin_nested():
                document = store.insert_document(
                    session,
                    tenant=tenant,
                    collection=collection,
                    filename=filename,
                    sniffed=sniffed,
                    data=data,
                    sha256=digest,
                    metadata=metadata,
                    external_id=external_id,
                )
                job = new_job(session, document, max_attempts)
        except IntegrityError:
            if external_id is not None and store.find_by_external_id(
                    session, tenant=tenant, external_id=external_id) is not None:
                session.rollback()
                raise ExternalIdTaken("another upload has this external_id",
                                      external_id=external_id) from None
            continue  # an identical upload committed first; the next lookup finds it
        return committed(session, document, job, "created")
    raise RuntimeError("could not store the upload: the same bytes kept appearing and vanishing")


def get_document(session: Session, *, tenant: str, document_id: uuid.UUID) -> Document:
    """The tenant's document; DocumentNotFound for unknown ids and other tenants' ids."""
    document = store.get_document(session, tenant=tenant, document_id=document_id)
    if document is None:
        raise DocumentNotFound("document not found", document_id=str(document_id))
    return document


list_documents = store.list_documents
"""A page of the tenant's documents, newest first, optionally of one collection or status, and
their total (the store's listing as is: it already filters on the tenant and needs no
not-found check)."""


def list_chunks(
    session: Session, *, tenant: str, document_id: uuid.UUID, limit: int = 100, offset: int = 0
) -> Counted[ChunkRow]:
    """A page of the document's chunks in order and their total; DocumentNotFound if the
    tenant has no such document."""
    get_document(session, tenant=tenant, document_id=document_id)
    return store.list_chunks(
        session, tenant=tenant, document_id=document_id, limit=limit, offset=offset
    )


def list_pages(
    session: Session, *, tenant: str, document_id: uuid.UUID, limit: int = 100, offset: int = 0
) -> Counted[Page]:
    """A page of the document's pages in order and their total; DocumentNotFound if the
    tenant has no such document."""
    get_document(session, tenant=tenant, document_id=document_id)
    return store.list_pages(
        session, tenant=tenant, document_id=document_id, limit=limit, offset=offset
    )


def delete_document(session: Session, *, tenant: str, document_id: uuid.UUID) -> None:
    """Delete the document with its file, pages, chunks and jobs; commits.

    A worker busy with it notices at its next progress update and stops without writing.
    """
    if not store.delete_document(session, tenant=tenant, document_id=document_id):
        session.rollback()
        raise DocumentNotFound("document not found", document_id=str(document_id))
    session.commit()


def get_job(session: Session, *, tenant: str, job_id: uuid.UUID) -> Job:
    """The tenant's job; JobNotFound for unknown ids and other tenants' ids."""
    job = session.scalar(select(Job).where(Job.id == job_id, Job.tenant_id == tenant))
    if job is None:
        raise JobNotFound("job not found", job_id=str(job_id))
    return job


def list_jobs(
    session: Session,
    *,
    tenant: str,
    document_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Counted[Job]:
    """A page of the tenant's jobs, newest first, optionally of one document or status, and
    their total."""
    return store.list_newest(session, Job, tenant=tenant,
                             equal={"document_id": document_id, "status": status},
                             limit=limit, offset=offset)


def queue_depth(session: Session) -> dict[str, int]:
    """How many jobs are `queued` and `running` right now, over every tenant (what the
    ingestion metrics report as the queue's depth)."""
    counts = dict.fromkeys(("queued", "running"), 0)
    rows = session.execute(
        select(Job.status, func.count()).where(Job.status.in_(counts)).group_by(Job.status)
    )
    counts.update({status: int(count) for status, count in rows})
    return counts


def wait_for_job(
    session_factory: Callable[[], Session],
    *,
    tenant: str,
    job_id: uuid.UUID,
    timeout_s: float = 600.0,
    poll_s: float = 0.5,
    on_progress: Callable[[Job], None] | None = None,
) -> Job:
    """Poll until the job is succeeded or failed and return it (a detached snapshot).

    `on_progress(job)` is called whenever status, stage or pages_done change. Raises
    JobNotFound (unknown id, or the document was deleted) and JobWaitTimeout after `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    seen: tuple[object, ...] | None = None
    while True:
        with session_factory() as session:
            job = get_job(session, tenant=tenant, job_id=job_id)
            session.expunge(job)
        state = (job.status, job.stage, job.pages_done, job.pages_total)
        if on_progress is not None and state != seen:
            on_progress(job)
        seen = state
        if job.status in TERMINAL_STATUSES:
            return job
        if time.monotonic() >= deadline:
            raise JobWaitTimeout(
                f"job still {job.status} after {timeout_s:g}s",
                job_id=str(job_id),
                status=job.status,
                stage=job.stage,
            )
        time.sleep(poll_s)
