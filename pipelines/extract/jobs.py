"""Extraction as a job: `POST /v1/extract` with `async`, a list of documents or a collection.

A job is a `jobs` row of kind "extract" on the ingestion queue (`pipelines.ingestion`'s
`extract_queue`: claim, lease, progress, cancel and the webhook event when it ends), with its
request and one result per document beside it. Submitting checks everything a worker would
refuse (the schema, a model able to extract, that every named document is the tenant's), so
a bad request queues nothing; a collection is the ready documents it holds when submitted.
The worker (`pipelines.extract.worker`) runs each document through the same use case as the
synchronous route and stores `ExtractionResult.to_dict()` per document, or its error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from pipelines import ingestion
from pipelines.extract.errors import NothingToExtract
from pipelines.extract.schemas import resolve_target
from pipelines.extract.service import DEFAULT_MAX_ATTEMPTS, require_extractor
from pipelines.ingestion import Job
from pipelines.llm import Router

MAX_JOB_DOCUMENTS = 1000
PAGE = 200


@dataclass(frozen=True)
class ExtractionJob:
    """A job's row, what was asked, and the results so far (one per document, in order)."""

    job: Job
    request: dict[str, Any]
    results: list[dict[str, Any]]


def collection_documents(session: Session, *, tenant: str, collection: str) -> list[uuid.UUID]:
    """The ids of the collection's ready documents, oldest first (at most MAX_JOB_DOCUMENTS)."""
    ids: list[uuid.UUID] = []
    while True:
        batch = ingestion.list_documents(session, tenant=tenant, collection=collection,
                                         status="ready", limit=PAGE, offset=len(ids))
        ids += [d.id for d in batch.rows]
        if len(ids) > MAX_JOB_DOCUMENTS:
            raise NothingToExtract(
                f"the collection holds more than {MAX_JOB_DOCUMENTS} ready documents: "
                "submit them in batches of document_ids", collection=collection)
        if len(ids) >= batch.total or not batch.rows:
            return list(reversed(ids))


def submit_extraction(
    session: Session,
    router: Router | None,
    *,
    tenant: str,
    schema: str | dict[str, Any],
    document_ids: list[uuid.UUID] | None = None,
    collection: str | None = None,
    text: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    accept_invalid: bool = False,
) -> Job:
    """Queue one extraction job over `document_ids`, a `collection`'s ready documents, or
    `text`; raises InvalidSchema, NoExtractor, DocumentNotFound or NothingToExtract first."""
    resolve_target(schema)
    require_extractor(router)
    ids: list[uuid.UUID] = []
    if collection is not None:
        ids = collection_documents(session, tenant=tenant, collection=collection)
        if not ids:
            raise NothingToExtract(f"the collection {collection!r} has no ready documents",
                                   collection=collection)
    elif document_ids is not None:
        ids = list(dict.fromkeys(document_ids))
        for document_id in ids:  # 404 for one that is not the tenant's
            ingestion.get_document(session, tenant=tenant, document_id=document_id)
    elif text is None:
        raise NothingToExtract("give documents, a collection or text to extract from")
    request = {"schema": schema, "document_ids": [str(i) for i in ids], "text": text,
               "collection": collection, "max_attempts": max_attempts,
               "accept_invalid": accept_invalid}
    return ingestion.submit_extract_job(session, tenant=tenant, request=request,
                                        total=len(ids) if text is None else 1)


def get_extraction_job(session: Session, *, tenant: str, job_id: uuid.UUID) -> ExtractionJob:
    """The tenant's extraction job with its results (JobNotFound, 404, otherwise)."""
    job, payload = ingestion.get_extract_job(session, tenant=tenant, job_id=job_id)
    return ExtractionJob(job, dict(payload.request), list(payload.results or []))
