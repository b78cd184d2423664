"""`POST /v1/ask`: a streamed answer with its sources (SSE), or the same content as one JSON.

Thin: validate the body, call `pipelines.conversation.answer_follow_up` (the answer use case,
after condensing a follow-up with its earlier turns: inline `history` or a stored
`conversation_id`), frame the events. SSE when the body
says `"stream": true` (the default) or the client sends `Accept: text/event-stream`; one JSON
object for `"stream": false`. Errors before any answer text exists (invalid filters 422,
budget 402, no model 503, provider failures 502) are plain JSON error responses; after that
the SSE stream carries them as an `error` event. The response owns the answer stream and
closes it when it ends (a client that disconnects, even before the first event, included),
which closes the provider call.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.deps import ContainerDep, SessionDep, TenantDep
from app.errors import error_response
from app.fields import (
    CollectionName,
    DocumentIds,
    MetadataFilter,
    MinScore,
    QueryText,
    SearchMode,
    Text,
)
from app.sse import AnswerEventSource
from pipelines.answer import collect
from pipelines.conversation import Turn, answer_follow_up
from pipelines.search import DEFAULT_TOP_K, Question

router = APIRouter(prefix="/v1", tags=["ask"])

PING_INTERVAL_S = 15
MAX_HISTORY_TURNS = 20


class HistoryTurn(BaseModel):
    """An earlier exchange the client kept: its question and the answer it got."""

    model_config = ConfigDict(extra="forbid")

    question: QueryText
    answer: Annotated[Text, Field(max_length=20_000)]


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
    history: Annotated[list[HistoryTurn] | None, Field(max_length=MAX_HISTORY_TURNS)] = None
    conversation_id: uuid.UUID | None = None
    semantic_cache: bool = Field(True, description=(
        "false: never answer from a reworded question's cached answer (the exact cache "
        "still applies)"))

    @model_validator(mode="after")
    def _one_past(self) -> AskBody:
        if self.history is not None and self.conversation_id is not None:
            raise ValueError("give history or conversation_id, not both")
        return self

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
    events = await answer_follow_up(
        session, container.session_factory, tenant=tenant, question=body.to_question(),
        history=[Turn(t.question, t.answer) for t in body.history or ()],
        conversation_id=body.conversation_id, embedder=container.embedder,
        router=container.llm_router, request_id=getattr(request.state, "request_id", None),
        gate=container.search_gate, search_timeout_ms=container.settings.search.timeout_ms,
        reranking=container.reranking, semantic_cache=body.semantic_cache)
    if wants_sse(request, body):
        return AnswerEventSource(events, ping=PING_INTERVAL_S)
    result = await collect(events)
    error = result["error"]
    if error is not None:
        details = {**error["details"], "partial_answer": result["answer"],
                   "meta": result["meta"], "sources": result["sources"]}
        return error_response(result["error_status"], error["code"], error["message"], details)
    return JSONResponse(result)
