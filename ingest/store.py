"""Corpus writes and reads: documents, their bytes, pages and embedded chunks.

Every function takes the caller's SQLAlchemy `Session` and a `tenant`, and every query filters on
that tenant, so another tenant's rows are simply not found. None of these functions commits:
the caller owns the transaction, which is what lets the job worker write a document's pages and
chunks and mark it `ready` in the same transaction that marks its job succeeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from core import Base
from ingest.corpus import ChunkRow, Document, DocumentFile, Page
from ingest.types import Chunk, CleanPage, PageWarning, Sniffed
from ingest.versions import content_hash

SECTION_JOINER = " > "
"""How a chunk's `section_path` is flattened into its `section` column (searched as text)."""

RowT = TypeVar("RowT", bound=Base)


@dataclass(frozen=True)
class Counted(Generic[RowT]):
    """One page of a listing (`rows`) and how many rows match its filters in all (`total`),
    whatever the limit and offset, so a caller can tell how many pages there are."""

    rows: list[RowT]
    total: int


def _counted(
    session: Session,
    query: Select[RowT],
    order_by: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    *,
    limit: int,
    offset: int,
) -> Counted[RowT]:
    """The page of `query` in `order_by` order, and the count of every row `query` matches.

    Both statements share `query`'s WHERE clause (so its tenant filter) and the caller's
    transaction; they are two statements, so under READ COMMITTED a commit landing between
    them can make `total` differ from the rows by that commit's rows.
    """
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(session.scalars(query.order_by(*order_by).limit(limit).offset(offset)))
    return Counted(rows=rows, total=int(total or 0))


def insert_document(
    session: Session,
    *,
    tenant: str,
    collection: str,
    filename: str,
    sniffed: Sniffed,
    data: bytes,
    sha256: str,
    metadata: dict[str, Any],
    external_id: str | None = None,
) -> Document:
    """Add a `processing` document (version 1) and its bytes; flushes, so a duplicate (bytes in
    the collection, or `external_id` in the tenant) raises IntegrityError."""
    document = Document(
        id=uuid.uuid4(),
        tenant_id=tenant,
        collection=collection,
        filename=filename,
        kind=sniffed.kind,
        content_type=sniffed.mime,
        sha256=sha256,
        size_bytes=len(data),
        metadata_=dict(metadata),
        status="processing",
        version=1,
        external_id=external_id,
    )
    session.add(document)
    session.flush()
    session.add(DocumentFile(document_id=document.id, tenant_id=tenant, data=data))
    session.flush()
    return document


def find_by_sha256(
    session: Session, *, tenant: str, collection: str, sha256: str
) -> Document | None:
    """The document with these exact bytes in this tenant's collection, if any (dedup)."""
    return session.scalar(
        select(Document).where(
            Document.tenant_id == tenant,
            Document.collection == collection,
            Document.sha256 == sha256,
        )
    )


def find_by_external_id(session: Session, *, tenant: str, external_id: str) -> Document | None:
    """The tenant's document the client named `external_id`, if any."""
    return session.scalar(
        select(Document).where(Document.tenant_id == tenant, Document.external_id == external_id)
    )


def get_document(
    session: Session, *, tenant: str, document_id: uuid.UUID, for_update: bool = False
) -> Document | None:
    """The tenant's document, or None (also when it belongs to another tenant)."""
    query = select(Document).where(Document.id == document_id, Document.tenant_id == tenant)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def list_newest(
    session: Session,
    table: type[RowT],
    *,
    tenant: str,
    equal: Mapping[str, object | None],
    limit: int,
    offset: int,
) -> Counted[RowT]:
    """A page of the tenant's rows of `table` (one with `tenant_id`, `created_at` and `id`
    columns), newest first, keeping those whose column named by each key of `equal` holds its
    value (a None value filters nothing), with the count of all rows so kept."""
    wanted = {column: value for column, value in equal.items() if value is not None}
    columns = table.__table__.c
    query = select(table).filter_by(tenant_id=tenant, **wanted)
    order = (columns.created_at.desc(), columns.id)
    return _counted(session, query, order, limit=limit, offset=offset)


def list_documents(
    session: Session,
    *,
    tenant: str,
    collection: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Counted[Document]:
    """A page of the tenant's documents, newest first, optionally by collection and status,
    with the count of all of them."""
    return list_newest(session, Document, tenant=tenant,
                       equal={"collection": collection, "status": status},
                       limit=limit, offset=offset)


def load_file(session: Session, *, tenant: str, document_id: uuid.UUID) -> bytes | None:
    """The uploaded bytes of the tenant's document, or None when it is gone."""
    return session.scalar(
        select(DocumentFile.data).where(
            DocumentFile.document_id == document_id, DocumentFile.tenant_id == tenant
        )
    )


def write_corpus(
    session: Session,
    *,
    document: Document,
    pages: Sequence[CleanPage],
    chunks: Sequence[Chunk],
    embeddings: Sequence[Sequence[float]],
    warnings: Sequence[PageWarning] = (),
) -> None:
    """Replace the document's pages and chunks and mark it `ready` with its page `warnings`,
    inside the caller's transaction.

    Any pages or chunks left from an earlier run are deleted first, so re-running a document
    never duplicates chunks. The caller commits (or rolls back) the whole thing at once, which is
    what keeps half-written documents invisible.
    """
    if len(chunks) != len(embeddings):
        raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
    tenant, doc_id = document.tenant_id, document.id
    session.execute(delete(ChunkRow).where(ChunkRow.document_id == doc_id))
    session.execute(delete(Page).where(Page.document_id == doc_id))
    if pages:
        session.execute(
            insert(Page),
            [
                {
                    "document_id": doc_id,
                    "page_no": page.page_no,
                    "tenant_id": tenant,
                    "method": page.method,
                    "raw_text": page.raw_text,
                    "text": page.text,
                    "cleanup": page.cleanup,
                    "cleanup_reason": page.cleanup_reason,
                    "ocr_confidence": page.ocr_confidence,
                    "error": page.error,
                }
                for page in pages
            ],
        )
    if chunks:
        session.execute(
            insert(ChunkRow),
            [
                {
                    "document_id": doc_id,
                    "tenant_id": tenant,
                    "collection": document.collection,
                    "ordinal": chunk.ordinal,
                    "text": chunk.text,
                    "section": SECTION_JOINER.join(chunk.section_path),
                    "section_path": list(chunk.section_path),
                    "page_start": chunk.page_start,
                    "page_end": chunk.page_end,
                    "char_start": chunk.char_start,
                    "char_end": chunk.char_end,
                    "token_count": chunk.token_count,
                    "content_hash": content_hash(chunk),
                    "embedding": [float(x) for x in vector],
                }
                for chunk, vector in zip(chunks, embeddings, strict=True)
            ],
        )
    session.execute(
        update(Document)
        .where(Document.id == doc_id, Document.tenant_id == tenant)
        .values(
            status="ready",
            page_count=len(pages),
            chunk_count=len(chunks),
            error=None,
            warnings=[warning.to_dict() for warning in warnings],
            updated_at=func.now(),
        )
    )


def set_processing_log(
    session: Session, *, tenant: str, document_id: uuid.UUID, log: dict[str, Any]
) -> None:
    """Keep the document's processing log (`ProcessingLog.to_dict`), in the caller's
    transaction."""
    session.execute(
        update(Document)
        .where(Document.id == document_id, Document.tenant_id == tenant)
        .values(processing_log=log)
    )


def mark_failed(
    session: Session, *, tenant: str, document_id: uuid.UUID, error: dict[str, Any]
) -> None:
    """Mark the document `failed` with a `{"code", "message", "details"}` error (no commit)."""
    session.execute(
        update(Document)
        .where(Document.id == document_id, Document.tenant_id == tenant)
        .values(status="failed", error=error, updated_at=func.now())
    )


def delete_document(session: Session, *, tenant: str, document_id: uuid.UUID) -> bool:
    """Delete the document; its file, pages, chunks and jobs go with it (FK cascade).

    Returns False when the tenant has no such document. Does not commit.
    """
    result = session.execute(
        delete(Document)
        .where(Document.id == document_id, Document.tenant_id == tenant)
        .returning(Document.id)
    )
    return result.first() is not None


def list_chunks(
    session: Session, *, tenant: str, document_id: uuid.UUID, limit: int = 100, offset: int = 0
) -> Counted[ChunkRow]:
    """A page of the tenant's chunks of one document in reading order (by ordinal), with the
    count of all of them."""
    query = select(ChunkRow).where(ChunkRow.document_id == document_id,
                                   ChunkRow.tenant_id == tenant)
    return _counted(session, query, (ChunkRow.ordinal,), limit=limit, offset=offset)


def list_pages(
    session: Session, *, tenant: str, document_id: uuid.UUID, limit: int = 100, offset: int = 0
) -> Counted[Page]:
    """A page of the tenant's pages of one document, by page number, with raw and cleaned
    text, and the count of all of them."""
    query = select(Page).where(Page.document_id == document_id, Page.tenant_id == tenant)
    return _counted(session, query, (Page.page_no,), limit=limit, offset=offset)
