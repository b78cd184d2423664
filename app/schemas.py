"""Response models of the documents and jobs API.

They are the public contract: built from the ORM rows that `pipelines.ingestion.jobs` returns,
never exposing `tenant_id`, stored bytes or embeddings.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from core import Base
from ingest.corpus import ChunkRow, Document, Page
from ingest.store import Counted
from pipelines.ingestion import Job, UploadOutcome

T = TypeVar("T")
RowT = TypeVar("RowT", bound=Base)


class PageWarningOut(BaseModel):
    """Something that went wrong on one page: an error object plus its `page`; `failed` means
    the page has no text because of it (the rest of the document was read)."""

    page: int
    code: str
    message: str
    details: dict[str, Any]
    failed: bool


class PagesByMethod(BaseModel):
    """Pages read from the text layer, by OCR, and pages that failed to be read."""

    text: int
    ocr: int
    failed: int


class ProcessingLogOut(BaseModel):
    """What ingesting the document took and found, written when its job succeeded."""

    stage_seconds: dict[str, float] = Field(
        description="wall seconds per stage: reading, ocr, cleanup, chunking, embedding, storing")
    pages: PagesByMethod
    ocr_mean_confidence: float | None = Field(
        description="mean Tesseract word confidence (0-100) over the pages OCR read")
    chars_removed: int = Field(
        description="NUL, other control characters and lone surrogates removed from the text")
    running_lines_dropped: int = Field(
        description="repeats of running headers and footers left out of the chunks")
    warnings: int
    chunks: int


class DocumentOut(BaseModel):
    """One uploaded document; `status` is processing, ready or failed; `version` counts its
    contents (1 on first ingest), `external_id` is the client's name for it, if given."""

    id: uuid.UUID
    collection: str
    filename: str
    kind: str
    content_type: str
    sha256: str
    size_bytes: int
    metadata: dict[str, Any]
    status: str
    page_count: int | None
    chunk_count: int | None
    error: dict[str, Any] | None
    warnings: list[PageWarningOut]
    processing_log: ProcessingLogOut | None
    version: int
    external_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Document) -> DocumentOut:
        """Build from a `Document` row."""
        return cls(
            id=row.id,
            collection=row.collection,
            filename=row.filename,
            kind=row.kind,
            content_type=row.content_type,
            sha256=row.sha256,
            size_bytes=row.size_bytes,
            metadata=dict(row.metadata_ or {}),
            status=row.status,
            page_count=row.page_count,
            chunk_count=row.chunk_count,
            error=row.error,
            warnings=[PageWarningOut.model_validate(w) for w in row.warnings or []],
            processing_log=None if row.processing_log is None
            else ProcessingLogOut.model_validate(row.processing_log),
            version=row.version,
            external_id=row.external_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class Progress(BaseModel):
    """Pages finished out of the document's pages (`pages_total` is null until known)."""

    pages_done: int
    pages_total: int | None


class JobOut(BaseModel):
    """An ingestion job; `status` is queued, running, succeeded, failed or cancelled.

    `version` is the document version it writes; once it succeeded, `chunks_reused` counts the
    chunks whose vectors were copied from the previous version (same embedded text) and
    `chunks_embedded` those the model computed.
    """

    id: uuid.UUID
    document_id: uuid.UUID | None
    status: str
    stage: str | None
    progress: Progress
    error: dict[str, Any] | None
    attempts: int
    version: int | None
    chunks_reused: int | None
    chunks_embedded: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Job) -> JobOut:
        """Build from a `Job` row."""
        return cls(
            id=row.id,
            document_id=row.document_id,
            status=row.status,
            stage=row.stage,
            progress=Progress(pages_done=row.pages_done or 0, pages_total=row.pages_total),
            error=row.error,
            attempts=row.attempts or 0,
            version=row.version,
            chunks_reused=row.chunks_reused,
            chunks_embedded=row.chunks_embedded,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )


class SubmissionOut(BaseModel):
    """The answer to an upload: the document and its job (null when nothing was queued)."""

    document: DocumentOut
    job: JobOut | None
    created: bool = Field(description="whether a job was queued")
    outcome: UploadOutcome = Field(
        description="a new document; the same bytes already in the collection (no job); a "
        "failed copy queued again; the document's next version queued; bytes identical to the "
        "document's current version (no job)")


class ChunkOut(BaseModel):
    """One section-aware chunk with where it came from in the document."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ordinal: int
    text: str
    section: str
    section_path: list[str]
    page_start: int
    page_end: int
    char_start: int
    char_end: int
    token_count: int

    @classmethod
    def of(cls, row: ChunkRow) -> ChunkOut:
        """Build from a `ChunkRow`, reading the attributes of the same names."""
        return cls.model_validate(row)


class PageOut(BaseModel):
    """One page's text, how it was read, and whether the LLM cleanup pass was applied; `error`
    says why a page that failed to be read has no text."""

    model_config = ConfigDict(from_attributes=True)

    page_no: int
    method: str
    text: str
    raw_text: str
    cleanup: str
    cleanup_reason: str | None
    ocr_confidence: float | None
    error: dict[str, Any] | None

    @classmethod
    def of(cls, row: Page) -> PageOut:
        """Build from a `Page` row, reading the attributes of the same names."""
        return cls.model_validate(row)


class Listing(BaseModel, Generic[T]):
    """A page of results: `items` after skipping `offset`, at most `limit` of them, and `total`,
    so a client knows how many pages there are without walking past the end."""

    items: list[T]
    limit: int
    offset: int
    total: int = Field(
        description="all of the tenant's items matching the request's filters, whatever "
        "`limit` and `offset` (also when `offset` is past the end and `items` is empty)"
    )


def listing(
    found: Counted[RowT], item: Callable[[RowT], T], *, limit: int, offset: int
) -> Listing[T]:
    """The response of a listing endpoint: each found row through `item`, with the total."""
    return Listing(
        items=[item(row) for row in found.rows], total=found.total, limit=limit, offset=offset
    )
