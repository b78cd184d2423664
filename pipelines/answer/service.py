"""The answer use case: question → retrieval → context fitted per model → routed stream → events.

`answer()` embeds the question and searches (both in a worker thread; the session's
transaction is ended afterwards so no connection is held while the answer streams). When no hit
passes the score threshold it returns the insufficient-evidence stream: `sources` empty, the
fixed `INSUFFICIENT_EVIDENCE` text, no LLM call and no spend. Otherwise it hands the router a
messages *builder*, so every candidate model gets the sources that fit its own context window,
and waits for the router's first event: errors that stop the answer before any text exists
(`BudgetExceeded` 402, `NoProviderAvailable` 503, `ProviderError` 502) are raised from
`answer()` itself, while the caller can still answer with a plain HTTP error. The returned
`AnswerStream` then yields `Meta`, `Sources`, `Token`..., `Usage`, `Done`, or ends with
`AnswerError` (which keeps the partial text) when the answer broke after tokens were sent.
A `Handover` marks a mid-stream failover where another model continues the answer. The caller
owns the stream: closing it closes the model call, read or not (see `pipelines.answer.stream`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ingest.embedding import Embedder
from pipelines.answer.citations import in_citation_order
from pipelines.answer.events import (
    AnswerError,
    AnswerEvent,
    Done,
    Handover,
    Meta,
    Sources,
    Token,
    Usage,
)
from pipelines.answer.stream import AnswerStream
from pipelines.llm import (
    CacheQuery,
    Failover,
    Finished,
    LLMError,
    Message,
    ModelConfig,
    Prompt,
    Router,
    RouteRequest,
    RouterEvent,
    SourcePassage,
    Started,
    StreamFailed,
    TextDelta,
    count_messages,
    count_tokens,
)
from pipelines.search import Question, SearchGate, retrieve
from retrieval.context import assemble_context
from retrieval.errors import InvalidBudget
from retrieval.rerank import Reranking
from retrieval.search import SEARCH_TIMEOUT_MS
from retrieval.types import Context, Hit

TASK = "answer"
PROMPT = "answer"  # a live variant (config), else the latest non-draft version; the exact
# `answer@vN` is recorded on the answer, its ledger rows and its cache key
INSUFFICIENT_EVIDENCE = (
    "Insufficient evidence: no passage in the searched documents is relevant enough to answer "
    "this question."
)
DEFAULT_MAX_CONTEXT_TOKENS = 6000
"""Upper bound of the sources block for any model: a big window is no reason to pay for more."""
FRAMING_SAFETY_TOKENS = 16  # providers' own message framing beyond what `count_messages` counts


async def answer(session: Session, *, tenant: str, question: Question, embedder: Embedder,
                 router: Router, request_id: str | None = None,
                 max_context_tokens: int = DEFAULT_MAX_CONTEXT_TOKENS,
                 gate: SearchGate | None = None, search_timeout_ms: int = SEARCH_TIMEOUT_MS,
                 semantic_cache: bool = True, reranking: Reranking | None = None,
                 sticky: str | None = None) -> AnswerStream:
    """Retrieve, then start the routed answer; returns its event stream (see the module doc),
    which the caller must close (`aclose()` or `async with`) whether or not it reads it.
    `semantic_cache=False` opts this answer out of the semantic cache (not the exact one).
    The prompt version is the registry's choice among the live variants, sticky by `sticky`
    (a conversation id), else by the tenant and the normalised question (`sticky_key`); `meta`
    names it (`variant`) with the answer's new `answer_id`.

    Raises retrieval's 422 errors, and the router's `BudgetExceeded`, `NoProviderAvailable`
    or `ProviderError` when no model produced a first token (nothing was streamed yet).
    """
    clock = _Clock()
    request_id = request_id or uuid.uuid4().hex
    prompt = router.prompts.choose(PROMPT, sticky or sticky_key(tenant, question.text))
    ident = _Ident(str(uuid.uuid4()), prompt.ref)
    hits = await retrieve(session, tenant=tenant, embedder=embedder, question=question,
                          gate=gate, timeout_ms=search_timeout_ms, reranking=reranking)
    clock.retrieved()
    if not hits:
        return AnswerStream(_insufficient(request_id, clock, ident))
    out = router.config.policy(TASK).max_output_tokens
    fitter = await asyncio.to_thread(_Fitter, prompt, question.text, hits, out,
                                     max_context_tokens)
    stream = router.stream(RouteRequest(
        TASK, tenant, fitter.messages, prompt=prompt, passages=fitter.passages,
        request_id=request_id,
        cache=CacheQuery(question.text, [(str(h.chunk_id), h.content_hash) for h in hits],
                         semantic=semantic_cache)))
    try:
        first = await anext(stream)
    except BaseException:
        await stream.aclose()
        raise
    return AnswerStream(in_citation_order(_relay(first, stream, fitter, clock, ident)),
                        owns=stream)


def sticky_key(tenant: str, question: str) -> str:
    """The variant key of an answer outside a conversation: the tenant and the question with
    case and spacing folded, so asking again gets the same prompt version."""
    return f"{tenant}\x00{' '.join(question.lower().split())}"


@dataclass(frozen=True)
class _Ident:
    """The answer's id and the prompt version it was assigned, stamped on its `meta`."""

    answer_id: str
    variant: str

    def stamp(self, meta: Meta) -> Meta:
        return dataclasses.replace(meta, answer_id=self.answer_id, variant=self.variant)


@dataclass
class _Clock:
    """Pipeline timings from the start of `answer()`: retrieval, first token, total."""

    t0: float = field(default_factory=time.perf_counter)
    retrieval_ms: int = 0
    ttft_ms: int | None = None

    def ms(self) -> int:
        return int((time.perf_counter() - self.t0) * 1000)

    def retrieved(self) -> None:
        self.retrieval_ms = self.ms()

    def first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self.ms()


class _Fitter:
    """Builds each candidate model's messages with the sources that fit its context window.

    Budget for the sources block: the model's window minus its output allowance, minus the
    prompt around the sources, capped by `max_context_tokens`; counted with the model's
    tokenizer. A model too small for even the best source gets the full context, so the
    router's own window check skips it. `passages` (for the extractive provider) are the
    sources that fit `max_context_tokens`.
    """

    def __init__(self, prompt: Prompt, question: str, hits: Sequence[Hit], max_output: int,
                 max_context_tokens: int) -> None:
        self.prompt, self.question, self.hits = prompt, question, hits
        self.max_output, self.max_context = max_output, max_context_tokens
        self.full = assemble_context(hits, budget_tokens=max_context_tokens,
                                     count_tokens=count_tokens)
        self.passages = tuple(SourcePassage(s.n, s.text) for s in self.full.sources)
        self.by_model: dict[str, Context] = {}

    def messages(self, model: ModelConfig) -> tuple[Message, ...]:
        """The prompt for `model` (the router calls this once per candidate)."""
        name = model.model_name
        frame = count_messages(self.prompt.render(question=self.question, sources=""), name)
        out = min(self.max_output, model.max_output_tokens)
        budget = min(self.max_context,
                     model.context_tokens - out - frame - FRAMING_SAFETY_TOKENS)
        try:
            context = assemble_context(self.hits, budget_tokens=budget,
                                       count_tokens=lambda text: count_tokens(text, name))
        except InvalidBudget:
            context = self.full
        self.by_model[model.id] = context
        return self.prompt.render(question=self.question, sources=context.text)

    def context_for(self, model_id: str) -> Context:
        """The context the model `model_id` was given."""
        return self.by_model.get(model_id, self.full)


async def _relay(first: RouterEvent, stream: AsyncGenerator[RouterEvent, None], fitter: _Fitter,
                 clock: _Clock, ident: _Ident) -> AsyncGenerator[AnswerEvent, None]:
    """Router events → answer events; once started, closing it closes the provider stream
    (the `AnswerStream` around it closes that stream in any case)."""
    sent: list[str] = []
    context: Context | None = None
    async with aclosing(stream):
        event: RouterEvent | None = first
        try:
            while event is not None:
                if isinstance(event, Started):
                    context = fitter.context_for(event.served.model)
                    yield ident.stamp(Meta.of(event.served))
                    yield Sources(context.sources)
                elif isinstance(event, TextDelta):
                    clock.first_token()
                    sent.append(event.text)
                    yield Token(event.text)
                elif isinstance(event, Failover):
                    yield Handover.of(event)
                    now = fitter.context_for(event.served.model)
                    if context is None or now.sources != context.sources:
                        context = now
                        yield Sources(now.sources)
                elif isinstance(event, Finished):
                    yield Usage(event.usage.input_tokens, event.usage.output_tokens,
                                event.cost_usd, clock.ttft_ms, clock.ms(), clock.retrieval_ms,
                                len(event.attempts))
                    yield Done(event.finish_reason)
                    return
                elif isinstance(event, StreamFailed):
                    yield AnswerError.of(event.error, event.partial_text, event.cost_usd)
                    return
                event = await anext(stream, None)
        except LLMError as exc:
            yield AnswerError.of(exc, "".join(sent), None)
            return
    yield AnswerError("stream_incomplete", "the model stream ended without a result", {},
                      "".join(sent), None)


async def _insufficient(request_id: str, clock: _Clock,
                        ident: _Ident) -> AsyncGenerator[AnswerEvent, None]:
    """Nothing passed the threshold: say so, cite nothing, call no model."""
    yield ident.stamp(Meta(request_id, None, None, None, None, insufficient_evidence=True,
                           attempt=0))
    yield Sources(())
    clock.first_token()
    yield Token(INSUFFICIENT_EVIDENCE)
    yield Usage(0, 0, 0.0, clock.ttft_ms, clock.ms(), clock.retrieval_ms, 0)
    yield Done("insufficient_evidence")


async def collect(events: AsyncIterator[AnswerEvent]) -> dict[str, Any]:
    """The whole answer as one JSON-friendly object (for `"stream": false`).

    Keys: answer_id (as in meta), meta, sources, answer (the joined tokens), usage,
    finish_reason, handovers, and error (null unless the answer broke; `answer` then holds the
    partial text, and `error_status` the error's outward HTTP status).
    """
    result: dict[str, Any] = {"answer_id": None, "meta": None, "sources": [], "answer": "",
                              "usage": None, "finish_reason": None, "handovers": [],
                              "error": None}
    parts: list[str] = []
    try:
        async for event in events:
            if isinstance(event, Token):
                parts.append(event.text)
            elif isinstance(event, Handover):
                result["handovers"].append(event.data())
            elif isinstance(event, Done):
                result["finish_reason"] = event.finish_reason
            elif isinstance(event, AnswerError):
                result["error"] = event.data()
                result["error_status"] = event.http_status
            else:
                if isinstance(event, Meta):
                    result["answer_id"] = event.answer_id
                result[event.name] = event.data()
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    result["answer"] = "".join(parts)
    return result
