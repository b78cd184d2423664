"""Where extraction reads from: a stored document, raw text, or a new upload ingested first.

Each entry point checks the schema and that an extractor is configured before any work (so a
bad request stores nothing), gathers the pages, and hands them to `service.extract`. A stored
document is read from its cleaned page text and its pages are ranked by retrieval over its
chunks; raw text is one page per form feed (`\\f`) and ranked lexically; an upload is
submitted to ingestion like any other and waited for (`JobWaitTimeout`, 504, names the job
so the caller can extract later by `document_id`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ingest.embedding import Embedder
from ingest.types import Limits
from pipelines import ingestion
from pipelines.extract.errors import DocumentNotReady
from pipelines.extract.evidence import SourcePage
from pipelines.extract.pages import LexicalRanker, RetrievalRanker
from pipelines.extract.schemas import resolve_target
from pipelines.extract.service import ExtractionResult, extract, require_extractor
from pipelines.llm import Router

PAGE_BATCH = 1000
DEFAULT_WAIT_S = 600.0


def document_pages(session: Session, *, tenant: str, document_id: uuid.UUID) -> list[SourcePage]:
    """The cleaned text of every page of a ready document (404 / 409 otherwise)."""
    document = ingestion.get_document(session, tenant=tenant, document_id=document_id)
    if document.status != "ready":
        raise DocumentNotReady(f"document is {document.status}, not ready: "
                               + ("wait for its ingestion job" if document.status == "processing"
                                  else "its ingestion failed"),
                               document_id=str(document_id), status=document.status,
                               error=document.error)
    pages: list[SourcePage] = []
    while True:
        batch = ingestion.list_pages(session, tenant=tenant, document_id=document_id,
                                      limit=PAGE_BATCH, offset=len(pages))
        pages += [SourcePage(p.page_no, p.text) for p in batch.rows]
        if len(pages) >= batch.total or not batch.rows:
            return pages


def text_pages(text: str) -> list[SourcePage]:
    """Raw text as pages: split at form feeds, numbered from 1."""
    return [SourcePage(i, part) for i, part in enumerate(text.split("\f"), start=1)]


def ingest_upload(
    session_factory: Callable[[], Session],
    *,
    tenant: str,
    collection: str,
    filename: str,
    data: bytes,
    limits: Limits,
    wait_s: float = DEFAULT_WAIT_S,
) -> uuid.UUID:
    """Submit an upload (deduplicated like any other), wait for its ingestion, return the
    document id; DocumentNotReady (409) if ingestion failed."""
    with session_factory() as session:
        submission = ingestion.submit_document(
            session, tenant=tenant, collection=collection, filename=filename, data=data,
            metadata={}, limits=limits)
        document = submission.document
        job_id = submission.job.id if submission.job is not None else None
        if job_id is None and document.status == "processing":
            jobs = ingestion.list_jobs(session, tenant=tenant, document_id=document.id,
                                        limit=1).rows
            job_id = jobs[0].id if jobs else None
    if job_id is not None:
        job = ingestion.wait_for_job(session_factory, tenant=tenant, job_id=job_id,
                                      timeout_s=wait_s)
        if job.status == "failed":
            raise DocumentNotReady("the upload could not be ingested", document_id=str(document.id),
                                   job_id=str(job_id), status="failed", error=job.error)
    return document.id


async def extract_document(
    router: Router | None, session: Session, embedder: Embedder, *, tenant: str,
    document_id: uuid.UUID, schema: str | dict[str, Any], **options: Any,
) -> ExtractionResult:
    """Extract from a stored document's pages, ranked by retrieval over its chunks."""
    resolve_target(schema)
    require_extractor(router)
    pages = await asyncio.to_thread(document_pages, session, tenant=tenant,
                                    document_id=document_id)
    ranker = RetrievalRanker(session, embedder, tenant=tenant, document_id=document_id)
    return await extract(router, tenant=tenant, schema=schema, pages=pages, ranker=ranker,
                         **options)


async def extract_text(
    router: Router | None, *, tenant: str, text: str, schema: str | dict[str, Any],
    **options: Any,
) -> ExtractionResult:
    """Extract from raw text (pages split at form feeds)."""
    return await extract(router, tenant=tenant, schema=schema, pages=text_pages(text),
                         ranker=LexicalRanker(), **options)


async def extract_upload(
    router: Router | None, session_factory: Callable[[], Session], embedder: Embedder, *,
    tenant: str, filename: str, data: bytes, limits: Limits, schema: str | dict[str, Any],
    collection: str = "default", wait_s: float = DEFAULT_WAIT_S, **options: Any,
) -> ExtractionResult:
    """Ingest an upload (or find the same bytes already stored), then extract from it."""
    resolve_target(schema)
    require_extractor(router)
    document_id = await asyncio.to_thread(
        ingest_upload, session_factory, tenant=tenant, collection=collection,
        filename=filename, data=data, limits=limits, wait_s=wait_s)
    with session_factory() as session:
        result = await extract_document(router, session, embedder, tenant=tenant,
                                        document_id=document_id, schema=schema, **options)
    return result
