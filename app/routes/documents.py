"""`/v1/documents`: upload, list, read, edit, original file, chunks, pages, delete; and
`/v1/collections`.

Thin: parse the request, call `pipelines.ingestion`, shape the response. An upload answers
202 with the document and its queued job, or 200 with the existing document (and no job)
when the same bytes are already in the tenant's collection. An upload with the `external_id`
of an existing document, or `PUT /{id}/content`, queues that document's next version (202),
or answers 200 `unchanged` when the bytes are its current version's.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from app.deps import ContainerDep, Limit, Offset, SessionDep, TenantDep
from app.fields import CollectionName, JsonObject, Text, check_form_text
from app.schemas import ChunkOut, DocumentOut, JobOut, Listing, PageOut, SubmissionOut, listing
from app.uploads import one_file_part, parse_metadata, read_bounded
from pipelines import ingestion

router = APIRouter(prefix="/v1/documents", tags=["documents"])
collections_router = APIRouter(prefix="/v1/collections", tags=["documents"])


class DocumentEdit(BaseModel):
    """What to change: `metadata` replaces the document's metadata whole, `collection` moves
    it; fields left out stay as they are. Nothing is re-embedded."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"metadata": {"year": 2024, "team": "finance"}, "collection": "reports"}]})

    metadata: JsonObject | None = None
    collection: CollectionName = None


class CollectionsOut(BaseModel):
    """The tenant's collections by name."""

    items: list[ingestion.Collection] = Field(default_factory=list)


@router.post("", status_code=status.HTTP_202_ACCEPTED, dependencies=[Depends(one_file_part)])
def upload_document(
    response: Response,
    container: ContainerDep,
    session: SessionDep,
    tenant: TenantDep,
    file: Annotated[UploadFile, File(description="PDF, PNG, JPEG, TIFF, text or Markdown")],
    collection: Annotated[Text, Form(min_length=1, max_length=200)] = "default",
    metadata: Annotated[str | None, Form(description="a JSON object stored with it")] = None,
    external_id: Annotated[Text | None, Form(
        min_length=1, max_length=200,
        description="your own name for the document, unique per tenant: an upload naming an "
        "existing document becomes its next version")] = None,
) -> SubmissionOut:
    """Store the file and queue its ingestion (or return the existing copy of the same bytes);
    with the `external_id` of an existing document, queue its next version instead."""
    filename, parsed, data = _read_upload(file, metadata, container.limits.max_bytes)
    submission = ingestion.submit_upload(
        session,
        tenant=tenant,
        collection=collection,
        filename=filename,
        data=data,
        metadata=parsed,
        limits=container.limits,
        external_id=external_id,
    )
    return _submitted(response, submission)


@router.put("/{document_id}/content", status_code=status.HTTP_202_ACCEPTED,
            dependencies=[Depends(one_file_part)])
def upload_version(
    document_id: uuid.UUID,
    response: Response,
    container: ContainerDep,
    session: SessionDep,
    tenant: TenantDep,
    file: Annotated[UploadFile, File(description="the document's new contents")],
    metadata: Annotated[str | None, Form(description="replaces the document's metadata")] = None,
) -> SubmissionOut:
    """Queue the file as the document's next version: the current version stays searchable
    until the new one replaces it whole; chunks whose text did not change keep their vectors.
    404 for an unknown document, 409 `document_busy` while its job is queued or running."""
    filename, parsed, data = _read_upload(file, metadata, container.limits.max_bytes)
    submission = ingestion.submit_version(
        session, tenant=tenant, document_id=document_id, filename=filename, data=data,
        metadata=parsed, limits=container.limits)
    return _submitted(response, submission)


def _read_upload(file: UploadFile, metadata: str | None, max_bytes: int
                 ) -> tuple[str, dict[str, Any] | None, bytes]:
    """An upload's checked file name, parsed metadata (None: not given) and bytes (at most
    `max_bytes`)."""
    filename = check_form_text("filename", file.filename or "upload")
    parsed = None if metadata is None else parse_metadata(metadata)
    return filename, parsed, read_bounded(file.file, max_bytes)


def _submitted(response: Response, submission: ingestion.Submission) -> SubmissionOut:
    """The upload's answer: 202 with the queued job, 200 when nothing was queued."""
    if not submission.created:
        response.status_code = status.HTTP_200_OK
    return SubmissionOut(
        document=DocumentOut.of(submission.document),
        job=JobOut.of(submission.job) if submission.job is not None else None,
        created=submission.created,
        outcome=submission.outcome,
    )


@router.get("")
def list_documents(
    session: SessionDep,
    tenant: TenantDep,
    collection: Text | None = None,
    status: str | None = Query(default=None, pattern="^(processing|ready|failed)$"),
    limit: Limit = 50,
    offset: Offset = 0,
) -> Listing[DocumentOut]:
    """The tenant's documents, newest first, optionally of one collection or status."""
    listed = ingestion.list_documents(
        session, tenant=tenant, collection=collection, status=status, limit=limit, offset=offset
    )
    return listing(listed, DocumentOut.of, limit=limit, offset=offset)


@router.get("/{document_id}")
def get_document(document_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> DocumentOut:
    """One document of the tenant (404 for unknown ids and for other tenants' ids)."""
    return DocumentOut.of(ingestion.get_document(session, tenant=tenant, document_id=document_id))


@router.patch("/{document_id}")
def edit_document(document_id: uuid.UUID, body: DocumentEdit, session: SessionDep,
                  tenant: TenantDep) -> DocumentOut:
    """Change the document's metadata or collection; searches and filters see it at once."""
    return DocumentOut.of(ingestion.update_document(
        session, tenant=tenant, document_id=document_id, metadata=body.metadata,
        collection=body.collection))


@router.get("/{document_id}/file", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the uploaded bytes, with their content type"}})
def download_document(document_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> Any:
    """The original upload, as it was sent."""
    document, data = ingestion.document_file(session, tenant=tenant, document_id=document_id)
    disposition = f"attachment; filename*=UTF-8''{quote(document.filename)}"
    return Response(data, media_type=document.content_type,
                    headers={"Content-Disposition": disposition})


@collections_router.get("")
def list_collections(session: SessionDep, tenant: TenantDep) -> CollectionsOut:
    """The tenant's collections with their counts."""
    return CollectionsOut(items=ingestion.list_collections(session, tenant=tenant))


@router.get("/{document_id}/chunks")
def list_chunks(
    document_id: uuid.UUID,
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Listing[ChunkOut]:
    """The document's chunks in reading order, with pages and section paths."""
    listed = ingestion.list_chunks(
        session, tenant=tenant, document_id=document_id, limit=limit, offset=offset
    )
    return listing(listed, ChunkOut.of, limit=limit, offset=offset)


@router.get("/{document_id}/pages")
def list_pages(
    document_id: uuid.UUID,
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Listing[PageOut]:
    """The document's pages: raw and cleaned text, method (text/ocr), OCR confidence."""
    listed = ingestion.list_pages(
        session, tenant=tenant, document_id=document_id, limit=limit, offset=offset
    )
    return listing(listed, PageOut.of, limit=limit, offset=offset)


@router.delete("/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(document_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> None:
    """Remove the document with its pages, chunks and jobs."""
    ingestion.delete_document(session, tenant=tenant, document_id=document_id)
