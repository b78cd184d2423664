"""`POST /v1/extract` (JSON or multipart) and `GET /v1/schemas`.

Thin: read the request, call `pipelines.extract`, return its result. The JSON body is
`{"schema": "receipt" | {JSON Schema}, "document_id": ... | "text": ..., "max_attempts": 3,
"accept_invalid": false}`; the multipart form carries `file` and `schema` (a name, or a JSON
Schema as text), optionally `collection` and `max_attempts`, and the file is ingested first.
The LLM router is the container's `llm_router`; when none of its models can return structured
output, extraction answers 503 with how to configure one.

A batch (`"document_ids": [...]` or `"collection": "x"`), or any JSON request with
`"async": true`, is queued as one job instead (202 with the job); the extraction workers run
it and wait out a provider outage instead of failing, and `GET /v1/extract/jobs/{id}` shows
its progress (documents done of total) and one result per document, each the same
`ExtractionOut` as the synchronous answer.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.datastructures import UploadFile

from app.deps import ContainerDep, SessionDep, TenantDep
from app.errors import ApiError
from app.fields import JsonObject, Text, check_form_text, check_json
from app.uploads import read_bounded
from pipelines.extract import (
    DEFAULT_MAX_ATTEMPTS,
    MAX_ATTEMPTS_LIMIT,
    MAX_JOB_DOCUMENTS,
    SCHEMAS,
    ExtractionJob,
    extract_document,
    extract_text,
    extract_upload,
    get_extraction_job,
    submit_extraction,
)

router = APIRouter(prefix="/v1", tags=["extract"])
MAX_TEXT_CHARS = 2_000_000

_BODIES = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "required": ["schema"], "properties": {
        "schema": {"oneOf": [{"type": "string", "enum": list(SCHEMAS)}, {"type": "object"}]},
        "document_id": {"type": "string", "format": "uuid"}, "text": {"type": "string"},
        "document_ids": {"type": "array", "items": {"type": "string", "format": "uuid"},
                         "minItems": 1, "maxItems": MAX_JOB_DOCUMENTS},
        "collection": {"type": "string"},
        "async": {"type": "boolean", "description": "queue a job (202) instead of waiting"},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS_LIMIT},
        "accept_invalid": {"type": "boolean"}}}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file", "schema"],
                                       "properties": {
        "file": {"type": "string", "format": "binary"},
        "schema": {"type": "string", "description": "a name, or a JSON Schema as text"},
        "collection": {"type": "string"}, "max_attempts": {"type": "integer"}}}}}}}


class ExtractBody(BaseModel):
    """The JSON request: a schema and exactly one of `document_id`, `text`, `document_ids`
    or `collection` (the last two are always a job, the first two with `async`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    target: Text | JsonObject = Field(alias="schema")
    document_id: uuid.UUID | None = None
    text: Text | None = Field(None, max_length=MAX_TEXT_CHARS)
    document_ids: list[uuid.UUID] | None = Field(None, min_length=1,
                                                 max_length=MAX_JOB_DOCUMENTS)
    collection: Text | None = None
    queued: bool = Field(False, alias="async")
    max_attempts: int = Field(DEFAULT_MAX_ATTEMPTS, ge=1, le=MAX_ATTEMPTS_LIMIT)
    accept_invalid: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> ExtractBody:
        given = [self.document_id, self.text, self.document_ids, self.collection]
        if sum(x is not None for x in given) != 1:
            raise ValueError("give exactly one of document_id, text, document_ids or "
                             "collection")
        return self

    @property
    def as_job(self) -> bool:
        """Whether the request is queued as a job."""
        return self.queued or self.document_ids is not None or self.collection is not None


class EvidenceOut(BaseModel):
    """Where an extracted value was found in the document: its page, the verbatim quote and
    the similarity (0-100); `found` false flags a value the document does not contain."""

    found: bool
    page: int | None
    quote: str | None
    score: float | None


class ExtractionOut(BaseModel):
    """The extraction: `data` in the schema's shape, whether it validated, how many attempts it
    took, evidence per field, who answered and what it cost, the pages read."""

    model_config = ConfigDict(populate_by_name=True)

    schema_name: str = Field(alias="schema", description="the named schema, or `custom`")
    data: dict[str, Any]
    valid: bool
    attempts: int
    evidence: dict[str, EvidenceOut]
    model: str
    provider: str
    prompt: str
    structured: str = Field(description="the structured-output mode the model was asked in")
    usage: dict[str, Any]
    pages: list[int]
    truncated: bool
    request_id: str
    errors: list[dict[str, Any]] = Field(description="the last validation errors when invalid")


class DocumentResultOut(BaseModel):
    """One document of an extraction job: `status` succeeded (with `extraction`) or failed
    (with `error`); `document_id` is null for a job over raw text."""

    document_id: uuid.UUID | None
    status: str
    extraction: ExtractionOut | None
    error: dict[str, Any] | None


class DocumentsProgress(BaseModel):
    """How many of the job's documents are done."""

    documents_done: int
    documents_total: int | None


class ExtractJobOut(BaseModel):
    """An extraction job: `status` queued, running, succeeded, failed or cancelled; `stage`
    says what it does now (e.g. "waiting for a provider ..." during an outage); `results`
    holds one entry per document done so far, in request order."""

    id: uuid.UUID
    kind: str = "extract"
    status: str
    stage: str | None
    progress: DocumentsProgress
    error: dict[str, Any] | None
    attempts: int
    schema_name: str = Field(alias="schema", description="the named schema, or `custom`")
    results: list[DocumentResultOut]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def of(cls, found: ExtractionJob) -> ExtractJobOut:
        """Build from a job, its request and results."""
        job, schema = found.job, found.request.get("schema")
        return cls(id=job.id, status=job.status, stage=job.stage,
                   progress=DocumentsProgress(documents_done=job.pages_done or 0,
                                              documents_total=job.pages_total),
                   error=job.error, attempts=job.attempts or 0,
                   schema_name=schema if isinstance(schema, str) else "custom",
                   results=[DocumentResultOut.model_validate(r) for r in found.results],
                   created_at=job.created_at, started_at=job.started_at,
                   finished_at=job.finished_at)


def _form_schema(raw: Any) -> str | dict[str, Any]:
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(422, "validation_error", "schema: a schema name or a JSON Schema is "
                       "required", field="schema")
    check_form_text("schema", raw)
    if not raw.lstrip().startswith("{"):
        return raw.strip()
    try:
        parsed: dict[str, Any] = check_json(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise ApiError(422, "invalid_schema", f"schema is not valid JSON: {exc.msg}",
                       field="schema") from None
    except (RecursionError, ValueError) as exc:
        reason = "nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ApiError(422, "invalid_schema", f"schema: {reason}", field="schema") from None
    return parsed


async def _from_form(request: Request, container: ContainerDep, tenant: str) -> ExtractionOut:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "validation_error", "file: an uploaded file is required",
                           field="file")
        schema = _form_schema(form.get("schema"))
        attempts = str(form.get("max_attempts") or DEFAULT_MAX_ATTEMPTS)
        if not attempts.isdigit() or not 1 <= int(attempts) <= MAX_ATTEMPTS_LIMIT:
            raise ApiError(422, "validation_error",
                           f"max_attempts: an integer in 1..{MAX_ATTEMPTS_LIMIT}")
        data = await asyncio.to_thread(read_bounded, upload.file, container.limits.max_bytes)
        result = await extract_upload(
            container.llm_router, container.session_factory, container.embedder,
            tenant=tenant, filename=check_form_text("filename", upload.filename or "upload"),
            data=data, limits=container.limits, schema=schema,
            collection=check_form_text("collection", str(form.get("collection") or "default")),
            max_attempts=int(attempts), request_id=getattr(request.state, "request_id", None))
    return ExtractionOut.model_validate(result.to_dict())


@router.post("/extract", openapi_extra=_BODIES, responses={
    202: {"model": ExtractJobOut, "description": "a batch or `async` request, queued"}})
async def extract(
    request: Request, response: Response, container: ContainerDep, session: SessionDep,
    tenant: TenantDep,
) -> ExtractionOut | ExtractJobOut:
    """Extract a named schema or a JSON Schema from a document, raw text or an upload; a
    batch over `document_ids` or a `collection`, or any request with `async`, is a job."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await _from_form(request, container, tenant)
    try:
        body = ExtractBody.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    if body.as_job:
        ids = body.document_ids or ([body.document_id] if body.document_id else None)
        job = await asyncio.to_thread(
            submit_extraction, session, container.llm_router, tenant=tenant,
            schema=body.target, document_ids=ids, collection=body.collection, text=body.text,
            max_attempts=body.max_attempts, accept_invalid=body.accept_invalid)
        response.status_code = status.HTTP_202_ACCEPTED
        return ExtractJobOut.of(ExtractionJob(job, {"schema": body.target}, []))
    options = {"max_attempts": body.max_attempts, "accept_invalid": body.accept_invalid,
               "request_id": getattr(request.state, "request_id", None)}  # ledger ↔ rate limits
    if body.document_id is not None:
        result = await extract_document(container.llm_router, session, container.embedder,
                                        tenant=tenant, document_id=body.document_id,
                                        schema=body.target, **options)
    else:
        result = await extract_text(container.llm_router, tenant=tenant,
                                    text=body.text or "", schema=body.target, **options)
    return ExtractionOut.model_validate(result.to_dict())


@router.get("/extract/jobs/{job_id}")
def get_extract_job(job_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> ExtractJobOut:
    """An extraction job's status, stage, progress and its results so far (cancel it with
    `POST /v1/jobs/{id}/cancel`, like any job)."""
    return ExtractJobOut.of(get_extraction_job(session, tenant=tenant, job_id=job_id))


@router.get("/schemas")
def list_schemas(tenant: TenantDep) -> dict[str, Any]:
    """The named schemas with their JSON Schemas (any JSON Schema object may be sent too)."""
    return {"schemas": [{"name": s.name, "description": s.description,
                         "json_schema": s.json_schema} for s in SCHEMAS.values()]}
