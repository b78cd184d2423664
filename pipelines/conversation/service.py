"""Answering a follow-up: earlier turns → a stand-alone question → the answer use case.

The earlier turns come inline (`history`, kept by the client) or from a stored conversation
(`conversation_id`, its latest `MAX_TURNS` turns). The follow-up is condensed into a question
that stands alone (`condense`), which retrieval searches for and the model answers; `meta`
shows it. A stored conversation gets the new turn (question, stand-alone question, answer
text, sources) once the answer is complete, before `done` is sent, so a client that saw
`done` finds the turn in the thread. A broken answer (`error`) adds no turn. Every complete
answer, in a conversation or not, is recorded too (`pipelines.feedback`: its id, prompt
version, model, tokens, cost, latency, and the turn), before `done`, so a client can rate it
at once; within a stored conversation, the prompt version is sticky per conversation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from ingest.embedding import Embedder
from pipelines.answer import (
    AnswerEvent,
    AnswerStream,
    Done,
    Meta,
    Sources,
    Token,
    Usage,
    answer,
)
from pipelines.conversation.condense import MAX_TURNS, Condensed, Condenser, Turn
from pipelines.conversation.store import add_turn, get_conversation
from pipelines.feedback import FinishedAnswer, record_answer
from pipelines.llm import LLMMetrics, Router
from pipelines.search import Question, SearchGate
from retrieval.rerank import Reranking

SessionFactory = Callable[[], Session]


def stored_turns(session: Session, *, tenant: str, conversation_id: uuid.UUID) -> list[Turn]:
    """The conversation's latest turns, oldest first; `ConversationNotFound` if not the
    tenant's."""
    thread = get_conversation(session, tenant=tenant, conversation_id=conversation_id)
    return [Turn(t.question, t.answer, t.query) for t in thread.turns[-MAX_TURNS:]]


async def answer_follow_up(
    session: Session, sessions: SessionFactory, *, tenant: str, question: Question,
    history: Sequence[Turn], conversation_id: uuid.UUID | None, embedder: Embedder,
    router: Router, request_id: str | None = None, gate: SearchGate | None = None,
    search_timeout_ms: int | None = None, reranking: Reranking | None = None,
    semantic_cache: bool = True,
) -> AnswerStream:
    """`pipelines.answer.answer` for `question` after `history` or the stored conversation's
    turns (see the module docstring); raises what `answer` raises, and `ConversationNotFound`."""
    if conversation_id is not None:
        history = await asyncio.to_thread(stored_turns, session, tenant=tenant,
                                          conversation_id=conversation_id)
    condensed = await Condenser(router).condense(history, question.text, tenant=tenant,
                                                 request_id=request_id)
    options: dict[str, Any] = {} if search_timeout_ms is None else {
        "search_timeout_ms": search_timeout_ms}
    inner = await answer(session, tenant=tenant,
                         question=dataclasses.replace(question, text=condensed.text),
                         embedder=embedder, router=router, request_id=request_id, gate=gate,
                         reranking=reranking, semantic_cache=semantic_cache,
                         sticky=None if conversation_id is None else str(conversation_id),
                         **options)
    record = _Recorder(sessions, tenant, conversation_id, question.text, condensed.text,
                       router.metrics)
    return AnswerStream(_annotated(inner, condensed, conversation_id, record), owns=inner)


class _Recorder:
    """Stores the finished turn of a stored conversation, and the answer's row (off the event
    loop); counts the answer by evidence in `/metrics` (`answers`)."""

    def __init__(self, sessions: SessionFactory, tenant: str,
                 conversation_id: uuid.UUID | None, question: str, query: str,
                 metrics: LLMMetrics | None = None) -> None:
        self.sessions, self.tenant, self.conversation_id = sessions, tenant, conversation_id
        self.question, self.query, self.metrics = question, query, metrics

    def __call__(self, answer_text: str, sources: list[dict[str, Any]], meta: Meta | None,
                 usage: Usage | None) -> None:
        if meta is not None and self.metrics is not None:
            self.metrics.answered(model=meta.model, prompt=meta.variant or meta.prompt,
                                  insufficient=meta.insufficient_evidence)
        with self.sessions() as session:
            turn_id = None
            if self.conversation_id is not None:
                turn_id = add_turn(session, tenant=self.tenant,
                                   conversation_id=self.conversation_id, question=self.question,
                                   query=self.query, answer=answer_text, sources=sources).id
            if meta is not None and meta.answer_id is not None and meta.variant is not None:
                record_answer(session, FinishedAnswer(
                    uuid.UUID(meta.answer_id), self.tenant, self.query, meta.variant,
                    model=meta.model, provider=meta.provider,
                    insufficient_evidence=meta.insufficient_evidence, cached=meta.cached,
                    input_tokens=usage.input_tokens if usage else 0,
                    output_tokens=usage.output_tokens if usage else 0,
                    cost_usd=usage.cost_usd if usage else 0.0,
                    latency_ms=usage.latency_ms if usage else 0,
                    conversation_id=self.conversation_id, turn_id=turn_id))


async def _annotated(events: AnswerStream, condensed: Condensed,
                     conversation_id: uuid.UUID | None,
                     record: _Recorder) -> AsyncGenerator[AnswerEvent, None]:
    """The answer's events with the conversation in `meta`, recording the turn and the answer
    before `done`."""
    rewritten = condensed.method != "none"
    text: list[str] = []
    sources: list[dict[str, Any]] = []
    meta: Meta | None = None
    usage: Usage | None = None
    async for event in events:
        if isinstance(event, Meta):
            event = meta = dataclasses.replace(
                event, conversation_id=None if conversation_id is None else str(conversation_id),
                query=condensed.text if rewritten else None,
                query_rewrite=condensed.method if rewritten else None)
        elif isinstance(event, Sources):
            sources = event.data()
        elif isinstance(event, Token):
            text.append(event.text)
        elif isinstance(event, Usage):
            usage = event
        elif isinstance(event, Done):
            await asyncio.to_thread(record, "".join(text), sources, meta, usage)
        yield event
