"""New versions of a document: one document, its contents replaced, unchanged chunks reused.

An upload becomes the next version of a document when it names the document (`PUT
/v1/documents/{id}/content`, `submit_version`) or the client's `external_id` of one
(`submit_upload`). The new bytes wait in `pending_versions`, one row per job, while the
document keeps its current bytes, pages and chunks, so searches keep finding the current
version. The worker embeds only the chunks whose embedded text is new (the rest reuse the
current chunks' vectors: `ingest.versions.known_vectors`), and `queue.finish` swaps pages,
chunks, bytes and version number in the one transaction that marks the job succeeded
(`apply`). A job that fails or is cancelled drops its pending row (`discard`) and leaves the
document as it was.

Refused: an unknown document (404), one whose job is still queued or running (409
`document_busy`), bytes another document of its collection holds (409 `duplicate_document`).
Bytes identical to the current version queue nothing (`outcome="unchanged"`), unless the
document failed, which re-queues it as an identical upload would.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, LargeBinary, Text, delete, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import Base
from ingest import store
from ingest.corpus import Document
from ingest.errors import IngestError
from ingest.types import Limits
from ingest.versions import Contents, replace_contents
from pipelines.errors import DocumentNotFound, PipelineError
from pipelines.ingestion import jobs
from pipelines.ingestion.edits import DuplicateDocument
from pipelines.ingestion.job_table import Job


class PendingVersion(Base):
    """The bytes of a document's next version, waiting for the job that ingests them."""

    __tablename__ = "pending_versions"

    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DocumentBusy(PipelineError):
    """The document's ingestion job is still queued or running: wait for it or cancel it."""

    code = "document_busy"
    http_status = 409


class VersionClash(IngestError):
    """By the time the new version was ready, another document of its collection held the same
    bytes (the job fails; the document keeps its current version)."""

    code = "duplicate_document"
    http_status = 409


def submit_version(
    session: Session,
    *,
    tenant: str,
    document_id: uuid.UUID,
    filename: str,
    data: bytes,
    limits: Limits,
    metadata: dict[str, Any] | None = None,
    max_attempts: int = 3,
) -> jobs.Submission:
    """Queue `data` as the document's next version (see the module docstring); commits.

    `metadata`, when given, replaces the document's with the new version. The bytes are
    checked like an upload's before anything is stored.
    """
    sniffed, filename, digest = jobs.check_upload(data, filename, metadata, limits)
    document = store.get_document(session, tenant=tenant, document_id=document_id,
                                  for_update=True)
    if document is None:
        session.rollback()
        raise DocumentNotFound("document not found", document_id=str(document_id))
    busy = session.scalar(select(Job.id).where(
        Job.document_id == document.id, Job.kind == "ingest",
        Job.status.in_(("queued", "running"))).limit(1))
    if busy is not None:
        session.rollback()
        raise DocumentBusy("the document is still being ingested; wait for its job or cancel it",
                           document_id=str(document_id), job_id=str(busy))
    if digest == document.sha256:
        if document.status == "failed":
            kept = document.metadata_ if metadata is None else metadata
            return jobs.requeue(session, document, filename, kept, max_attempts)
        return jobs.committed(session, document, None, "unchanged")
    other = store.find_by_sha256(session, tenant=tenant, collection=document.collection,
                                 sha256=digest)
    if other is not None:
        session.rollback()
        raise DuplicateDocument(f"collection {other.collection!r} already holds this file",
                                collection=other.collection, document_id=str(other.id))
    job = jobs.new_job(session, document, max_attempts, version=document.version + 1)
    session.add(PendingVersion(
        job_id=job.id, document_id=document.id, tenant_id=tenant, filename=filename,
        kind=sniffed.kind, content_type=sniffed.mime, sha256=digest, size_bytes=len(data),
        data=data, metadata_=None if metadata is None else dict(metadata)))
    session.flush()
    return jobs.committed(session, document, job, "version")


def submit_upload(
    session: Session,
    *,
    tenant: str,
    collection: str,
    filename: str,
    data: bytes,
    metadata: dict[str, Any] | None,
    limits: Limits,
    external_id: str | None = None,
    max_attempts: int = 3,
) -> jobs.Submission:
    """An upload: the next version of the tenant's document named `external_id` when there is
    one (it keeps its collection; `metadata` None keeps its metadata), else a new document as
    `jobs.submit_document` stores it, named `external_id`. Commits."""
    for _ in range(2):
        existing = None if external_id is None else store.find_by_external_id(
            session, tenant=tenant, external_id=external_id)
        if existing is not None:
            return submit_version(session, tenant=tenant, document_id=existing.id,
                                  filename=filename, data=data, limits=limits,
                                  metadata=metadata, max_attempts=max_attempts)
        try:
            return jobs.submit_document(session, tenant=tenant, collection=collection,
                                        filename=filename, data=data, metadata=metadata or {},
                                        limits=limits, max_attempts=max_attempts,
                                        external_id=external_id)
        except jobs.ExternalIdTaken:
            continue  # a concurrent upload named a new document first: version it
    raise RuntimeError("could not store the upload: its external_id kept appearing and vanishing")


def pending_contents(session: Session, *, job_id: uuid.UUID) -> Contents | None:
    """The new version the job ingests, or None for a job that ingests a document's own
    bytes."""
    row = session.get(PendingVersion, job_id)
    if row is None:
        return None
    return Contents(filename=row.filename, kind=row.kind, content_type=row.content_type,
                    sha256=row.sha256, data=row.data, metadata=row.metadata_)


def apply(session: Session, *, job_id: uuid.UUID, document: Document) -> int | None:
    """Move the job's pending version into `document` (in the caller's transaction, which also
    writes its pages and chunks) and return the new version number; None when the job ingests
    no new version. `VersionClash`, with the transaction rolled back, when another document of
    the collection took the same bytes meanwhile."""
    contents = pending_contents(session, job_id=job_id)
    if contents is None:
        return None
    try:
        version = replace_contents(session, document=document, contents=contents)
    except IntegrityError:
        session.rollback()
        raise VersionClash("another document of the collection now holds the same bytes",
                           collection=document.collection) from None
    discard(session, job_id=job_id)
    return version


def discard(session: Session, *, job_id: uuid.UUID) -> bool:
    """Drop the job's pending version (its job failed or was cancelled), in the caller's
    transaction; whether there was one."""
    result = session.execute(
        delete(PendingVersion).where(PendingVersion.job_id == job_id)
        .returning(PendingVersion.job_id))
    return result.first() is not None
