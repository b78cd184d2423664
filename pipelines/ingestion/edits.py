"""Changing a stored document without ingesting it again, reading its original, and the
tenant's collections.

A metadata or collection edit touches only the document row (and, for a collection, its
chunks' copy of the collection, which search filters on), in one transaction: searches and
filters see the change at once and nothing is re-embedded. Metadata is replaced whole and
checked like an upload's (`InvalidMetadata`); moving a document into a collection that
already holds the same bytes is refused (`DuplicateDocument`, 409), as an upload there would
have found the existing copy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingest import store
from ingest.corpus import ChunkRow, Document
from pipelines.errors import DocumentNotFound, PipelineError
from pipelines.ingestion.jobs import check_metadata


class DuplicateDocument(PipelineError):
    """The target collection already holds a document with the same bytes."""

    code = "duplicate_document"
    http_status = 409


@dataclass(frozen=True)
class Collection:
    """One of the tenant's collections with its documents by status and its chunks."""

    name: str
    documents: int
    ready: int
    processing: int
    failed: int
    chunks: int


def _document(session: Session, tenant: str, document_id: uuid.UUID) -> Document:
    document = store.get_document(session, tenant=tenant, document_id=document_id,
                                  for_update=True)
    if document is None:
        session.rollback()
        raise DocumentNotFound("document not found", document_id=str(document_id))
    return document


def update_document(session: Session, *, tenant: str, document_id: uuid.UUID,
                    metadata: dict[str, Any] | None = None,
                    collection: str | None = None) -> Document:
    """Replace the document's metadata and/or move it to `collection` (None: unchanged);
    commits. See the module docstring for what is refused."""
    check_metadata(metadata)
    document = _document(session, tenant, document_id)
    if metadata is not None:
        document.metadata_ = dict(metadata)
    try:
        if collection is not None and collection != document.collection:
            document.collection = collection
            session.execute(update(ChunkRow).where(ChunkRow.document_id == document_id)
                            .values(collection=collection))
        document.updated_at = func.now()
        session.commit()
    except IntegrityError:  # the unique (tenant, collection, sha256), at flush or commit
        session.rollback()
        raise DuplicateDocument(f"collection {collection!r} already holds this file",
                                collection=collection) from None
    session.refresh(document)
    return document


def document_file(session: Session, *, tenant: str, document_id: uuid.UUID
                  ) -> tuple[Document, bytes]:
    """The document and the bytes that were uploaded; DocumentNotFound otherwise."""
    document = store.get_document(session, tenant=tenant, document_id=document_id)
    data = None if document is None else store.load_file(session, tenant=tenant,
                                                         document_id=document_id)
    if document is None or data is None:
        raise DocumentNotFound("document not found", document_id=str(document_id))
    return document, data


def list_collections(session: Session, *, tenant: str) -> list[Collection]:
    """The tenant's collections by name, with their counts."""
    def count(status: str) -> Any:
        return func.count(case((Document.status == status, 1)))

    chunks = (select(ChunkRow.collection, func.count().label("chunks"))
              .where(ChunkRow.tenant_id == tenant).group_by(ChunkRow.collection).subquery())
    rows = session.execute(
        select(Document.collection, func.count(), count("ready"), count("processing"),
               count("failed"), func.coalesce(func.max(chunks.c.chunks), 0))
        .outerjoin(chunks, chunks.c.collection == Document.collection)
        .where(Document.tenant_id == tenant)
        .group_by(Document.collection).order_by(Document.collection))
    return [Collection(*row) for row in rows]
