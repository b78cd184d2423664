"""`POST /v1/search`: the retrieved chunks alone, without an answer.

Thin: the same retrieval the answer uses (`pipelines.search.retrieve`: embed the query, then
vector, full-text or hybrid search over the tenant's corpus with the score threshold and the
filters), shaped as hits with their scores, ranks, pages and sections.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.deps import ContainerDep, SessionDep, TenantDep
from app.fields import (
    CollectionName,
    DocumentIds,
    MetadataFilter,
    MinScore,
    QueryText,
    SearchMode,
)
from pipelines.search import DEFAULT_TOP_K, Question, retrieve
from retrieval.types import Hit

router = APIRouter(prefix="/v1", tags=["search"])


class SearchBody(BaseModel):
    """A search; `min_score` omitted means the calibrated default for the embedder."""

    model_config = ConfigDict(extra="forbid")

    query: QueryText
    top_k: Annotated[int, Field(ge=1, le=100)] = DEFAULT_TOP_K
    min_score: MinScore = None
    mode: SearchMode = "hybrid"
    collection: CollectionName = None
    document_ids: DocumentIds = None
    metadata: MetadataFilter = None


class HitOut(BaseModel):
    """One chunk: `score` is what `min_score` applies to (the cosine similarity to the query in
    vector mode; in text and hybrid mode the higher of the cosine and the chunk's text coverage
    × 0.5, so a chunk holding every word of the query passes the default); `fused_score`
    ordered the result (RRF in hybrid, cosine in vector, BM25-style in text)."""

    rank: int
    chunk_id: int
    document_id: uuid.UUID
    filename: str
    collection: str
    page_start: int
    page_end: int
    section: str
    section_path: list[str]
    text: str
    score: float
    fused_score: float
    vector_rank: int | None
    text_rank: int | None
    text_score: float | None
    metadata: dict[str, Any]

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        """Build from a retrieval `Hit`."""
        return cls(rank=hit.rank, chunk_id=hit.chunk_id, document_id=hit.document_id,
                   filename=hit.filename, collection=hit.collection, page_start=hit.page_start,
                   page_end=hit.page_end, section=hit.section,
                   section_path=list(hit.section_path), text=hit.text,
                   score=round(hit.score, 6), fused_score=round(hit.fused_score, 6),
                   vector_rank=hit.vector_rank, text_rank=hit.text_rank,
                   text_score=hit.text_score, metadata=dict(hit.document_metadata))


class SearchOut(BaseModel):
    """The hits, best first, with the mode and threshold that produced them."""

    query: str
    mode: str
    min_score: float
    hits: list[HitOut]


@router.post("/search")
async def search(body: SearchBody, container: ContainerDep, session: SessionDep,
                 tenant: TenantDep) -> SearchOut:
    """The tenant's best chunks for `query` (an empty list when nothing passes `min_score`)."""
    question = Question(
        text=body.query, top_k=body.top_k, min_score=body.min_score, mode=body.mode,
        collection=body.collection, document_ids=body.document_ids, metadata=body.metadata)
    hits = await retrieve(session, tenant=tenant, embedder=container.embedder,
                          question=question, gate=container.search_gate,
                          timeout_ms=container.settings.search.timeout_ms,
                          reranking=container.reranking)
    return SearchOut(query=body.query, mode=body.mode, min_score=question.threshold,
                     hits=[HitOut.of(h) for h in hits])
