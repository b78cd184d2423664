"""`POST /v1/ask`: a streamed answer with its sources (SSE), or the same content as one JSON.

Thin: validate the body, call `pipelines.answer.service.answer`, frame the events. SSE when the body
says `"stream": true` (the default) or the client sends `Accept: text/event-stream`; one JSON
object for `"stream": false`. Errors before any answer text exists (invalid filters 422,
budget 402, no model 503, provider failures 502) are plain JSON error responses; after that
the SSE stream carries them as an `error` event. The response owns the answer stream and
closes it when it ends (a client that disconnects, even before the first event, included),
which closes the provider call.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.deps import ContainerDep, SessionDep, TenantDep
from app.errors import error_response
from app.fields import CollectionName, DocumentIds, MetadataFilter, MinScore, QueryText, SearchMode
from app.sse import AnswerEventSource
from pipelines.answer import answer, collect
from pipelines.search import DEFAULT_TOP_K, Question

router = APIRouter(prefix="/v1", tags=["ask"])

PING_INTERVAL_S = 15


class AskBody(BaseModel):
    """The question and where to look; `min_score` omitted means the calibrated default."""

    model_config = ConfigDict(extra="forbid")

    question: QueryText
    top_k: Annotated[int, Field(ge=1, le=50)] = DEFAULT_TOP_K
    min_score: MinScore = None
    mode: SearchMode = "hybrid"
    collection: CollectionName = None
    document_ids: DocumentIds = None
    metadata: MetadataFilter = None
    stream: bool = True

    def to_question(self) -> Question:
        """The use case's view of the request."""
        return Question(
            text=self.question, top_k=self.top_k, min_score=self.min_score, mode=self.mode,
            collection=self.collection, document_ids=self.document_ids, metadata=self.metadata)


def wants_sse(request: Request, body: AskBody) -> bool:
    """SSE unless the body says `"stream": false` and the client does not ask for SSE."""
    return body.stream or "text/event-stream" in request.headers.get("accept", "")


@router.post("/ask", response_model=None)
async def ask(body: AskBody, request: Request, container: ContainerDep, session: SessionDep,
              tenant: TenantDep) -> Response:
    """Answer from the tenant's documents: SSE events meta, sources, token…, usage, done."""
    events = await answer(
        session, tenant=tenant, question=body.to_question(), embedder=container.embedder,
        router=container.llm_router, request_id=getattr(request.state, "request_id", None),
        gate=container.search_gate, search_timeout_ms=container.settings.search.timeout_ms)
    if wants_sse(request, body):
        return AnswerEventSource(events, ping=PING_INTERVAL_S)
    result = await collect(events)
    error = result["error"]
    if error is not None:
        details = {**error["details"], "partial_answer": result["answer"],
                   "meta": result["meta"], "sources": result["sources"]}
        return error_response(result["error_status"], error["code"], error["message"], details)
    return JSONResponse(result)
