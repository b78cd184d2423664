"""The router: pick the cheapest healthy model that meets a task's tier, fail over, account.

Candidates are the configured models whose tier is at least the task's `min_tier`, cheapest
first by estimated cost, then lower tiers (highest first), used only when the task may degrade
or the budget forces a downgrade. Open circuit breakers, missing capabilities (structured
output for extraction; extractive providers only answer) and too-small context windows are
skipped. Every attempt reserves its estimated cost in the tenant's budget, books one ledger
row with the actual cost, and feeds the provider's breaker and the metrics.

Streaming failover: a stream that fails before its first token is replaced transparently.
After tokens were sent, with `router.mid_stream = "continue"` (the default) the next
non-extractive candidate continues the answer (it gets the partial text and the `continue`
prompt) and a `Failover` event marks the seam; with "error", or when nobody can continue,
the stream ends with `StreamFailed`, which keeps the partial text.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from pipelines.llm.breaker import BreakerBoard, Clock
from pipelines.llm.budget import Budget, Reservation
from pipelines.llm.cache import AnswerCache, cache_key
from pipelines.llm.config import EXTRACTIVE_KIND, LLMConfig, ModelConfig
from pipelines.llm.errors import BudgetExceeded, LLMError, NoProviderAvailable, ProviderError
from pipelines.llm.ledger import CallRecord, Ledger, Outcome
from pipelines.llm.metrics import LLMMetrics
from pipelines.llm.prompts import Prompt, PromptRegistry
from pipelines.llm.protocol import ChatProvider
from pipelines.llm.tokens import count_messages, count_tokens
from pipelines.llm.types import (
    ChatRequest,
    Message,
    SourcePassage,
    StreamEnd,
    StreamItem,
    TextDelta,
    Usage,
)

MessagesArg = Sequence[Message] | Callable[[ModelConfig], Sequence[Message]]
HOW_TO_CONFIGURE = (
    "Configure a model: set OPENAI_API_KEY (plus OPENAI_BASE_URL for any OpenAI-compatible "
    "server), or LECTERN_LOCAL_MODEL_PATH for a local GGUF model, or point LECTERN_CONFIG at a "
    "TOML file (see docs/llm-config.md)."
)


# ---- what callers receive -------------------------------------------------------------------

@dataclass(frozen=True)
class Served:
    """Who is answering: for the SSE `meta` event and the stored answer."""

    request_id: str
    provider: str
    model: str
    tier: str
    prompt: str
    cached: bool = False
    extractive: bool = False
    degraded: bool = False  # below the task's min_tier (budget downgrade or all else failed)
    structured: str = "none"
    attempt: int = 1


@dataclass(frozen=True)
class Attempt:
    provider: str
    model: str
    outcome: Outcome
    cost_usd: float
    error: str | None = None


@dataclass(frozen=True)
class Started:
    """First item of a successful stream, sent just before the first token."""

    served: Served


@dataclass(frozen=True)
class Failover:
    """Mid-stream: `error` stopped the previous model; `served` continues after `kept_chars`."""

    served: Served
    error: ProviderError
    kept_chars: int


@dataclass(frozen=True)
class Finished:
    """Last item of a successful stream: totals over all attempts of this request."""

    served: Served
    text: str
    usage: Usage
    cost_usd: float
    latency_ms: int
    ttft_ms: int | None
    finish_reason: str | None
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True)
class StreamFailed:
    """Last item of a stream that broke after tokens were sent; `partial_text` was delivered."""

    error: LLMError
    partial_text: str
    served: Served | None
    cost_usd: float
    attempts: tuple[Attempt, ...]


RouterEvent = Started | TextDelta | Failover | Finished | StreamFailed


@dataclass(frozen=True)
class RoutedCompletion:
    text: str
    usage: Usage
    served: Served
    cost_usd: float
    latency_ms: int
    finish_reason: str | None
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True)
class CacheQuery:
    """Ask the router to consult and fill the answer cache (answers only)."""

    question: str
    chunks: Sequence[tuple[str, str]]  # (chunk id, content hash)
    ttl_s: float | None = None


@dataclass(frozen=True)
class Candidate:
    model: ModelConfig
    provider: ChatProvider
    messages: tuple[Message, ...]
    prompt_tokens: int
    max_tokens: int
    estimated_cost_usd: float
    degraded: bool
    extractive: bool
    structured: str
    streaming: bool


@dataclass
class _Call:
    task: str
    tenant: str
    prompt: str
    request_id: str
    t0: float = field(default_factory=time.perf_counter)
    attempts: list[Attempt] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    errors: list[ProviderError] = field(default_factory=list)
    budget_refusal: BudgetExceeded | None = None
    ttft_ms: int | None = None

    def ms(self) -> int:
        return int((time.perf_counter() - self.t0) * 1000)


class Router:
    """Routes LLM calls of every task; safe to share across concurrent requests."""

    def __init__(
        self,
        config: LLMConfig,
        providers: Mapping[str, ChatProvider],
        *,
        budget: Budget,
        ledger: Ledger,
        metrics: LLMMetrics | None = None,
        clock: Clock = time.monotonic,
        cache: AnswerCache | None = None,
        prompts: PromptRegistry | None = None,
    ) -> None:
        self.config = config
        self.providers = dict(providers)
        self.budget = budget
        self.ledger = ledger
        self.metrics = metrics or LLMMetrics()
        self.cache = cache
        self.prompts = prompts or PromptRegistry()
        self.breakers = BreakerBoard(
            failures_to_open=config.breaker.failures_to_open,
            cooldown_s=config.breaker.cooldown_s,
            clock=clock,
            on_change=self.metrics.breaker_changed,
        )

    # ---- choosing ---------------------------------------------------------------------------

    def candidates(
        self,
        task: str,
        messages: MessagesArg = (),
        *,
        max_tokens: int | None = None,
        structured: bool = False,
        skipped: dict[str, str] | None = None,
    ) -> list[Candidate]:
        """Usable models for `task`: those at min_tier or above (cheapest first), then lower
        tiers (degraded); reasons for the skipped ones go into `skipped`."""
        policy = self.config.policy(task)
        min_rank = self.config.tier_rank(policy.min_tier)
        skipped = skipped if skipped is not None else {}
        found: list[tuple[tuple[Any, ...], Candidate]] = []
        for order, m in enumerate(self.config.models):
            provider = self.providers.get(m.provider)
            reason = self._unfit(task, m, provider, structured)
            if reason is None and provider is not None:
                cand = self._candidate(m, provider, messages, max_tokens, policy.max_output_tokens,
                                       degraded=self.config.tier_rank(m.tier) < min_rank)
                if cand.prompt_tokens + cand.max_tokens > m.context_tokens:
                    reason = f"prompt of {cand.prompt_tokens} tokens exceeds the context window"
                elif not self.breakers.get(m.provider).available():
                    reason = "circuit breaker open"
                else:
                    rank = self.config.tier_rank(m.tier)
                    key = ((1, -rank) if cand.degraded else (0, 0)) + (
                        cand.estimated_cost_usd, m.priority, order)
                    found.append((key, cand))
            if reason is not None:
                skipped[m.id] = reason
        return [c for _, c in sorted(found, key=lambda kc: kc[0])]

    def _unfit(self, task: str, m: ModelConfig, provider: ChatProvider | None,
               structured: bool) -> str | None:
        if m.tasks is not None and task not in m.tasks:
            return f"configured for {list(m.tasks)} only"
        if provider is None:
            return f"provider {m.provider!r} is not available (not built or not installed)"
        extractive = self._is_extractive(m, provider)
        if extractive and task != "answer":
            return "an extractive provider can only answer"
        if structured and (extractive or self._structured(m, provider) == "none"):
            return "no structured output support"
        return None

    def _is_extractive(self, m: ModelConfig, provider: ChatProvider) -> bool:
        kind = self.config.providers[m.provider].kind
        return kind == EXTRACTIVE_KIND or provider.capabilities(m.model_name).extractive

    def _structured(self, m: ModelConfig, provider: ChatProvider) -> str:
        return m.structured or provider.capabilities(m.model_name).structured

    def _candidate(self, m: ModelConfig, provider: ChatProvider, messages: MessagesArg,
                   max_tokens: int | None, default_max: int, *, degraded: bool) -> Candidate:
        msgs = tuple(messages(m) if callable(messages) else messages)
        prompt_tokens = count_messages(msgs, m.model_name) if msgs else 0
        out = min(max_tokens or default_max, m.max_output_tokens)
        return Candidate(
            model=m, provider=provider, messages=msgs, prompt_tokens=prompt_tokens,
            max_tokens=out, estimated_cost_usd=m.cost_usd(prompt_tokens, out),
            degraded=degraded, extractive=self._is_extractive(m, provider),
            structured=self._structured(m, provider),
            streaming=provider.capabilities(m.model_name).streaming)

    def _plan(self, task: str, messages: MessagesArg, max_tokens: int | None,
              structured: bool) -> list[Candidate]:
        skipped: dict[str, str] = {}
        cands = self.candidates(task, messages, max_tokens=max_tokens, structured=structured,
                                skipped=skipped)
        if not cands:
            policy = self.config.policy(task)
            raise NoProviderAvailable(
                f"no model can serve task {task!r} (tier >= {policy.min_tier}"
                f"{', structured output' if structured else ''}). {HOW_TO_CONFIGURE}",
                task=task, min_tier=policy.min_tier, skipped=skipped)
        return cands

    # ---- running ----------------------------------------------------------------------------

    async def stream(
        self,
        task: str,
        tenant: str,
        messages: MessagesArg,
        *,
        prompt: str | Prompt,
        passages: Sequence[SourcePassage] = (),
        max_tokens: int | None = None,
        temperature: float = 0.0,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "output",
        request_id: str | None = None,
        cache: CacheQuery | None = None,
    ) -> AsyncIterator[RouterEvent]:
        """Stream a reply with failover: Started, TextDelta..., then Finished or StreamFailed.

        Raises (before yielding anything) NoProviderAvailable, BudgetExceeded or ProviderError
        when no candidate produced a first token.
        """
        call = _Call(task, tenant, _ref(prompt), request_id or uuid.uuid4().hex)
        cands = await asyncio.to_thread(  # token counting is CPU work: off the event loop
            self._plan, task, messages, max_tokens, json_schema is not None)
        if cache is not None:
            hit = await self._cache_lookup(call, cands, cache)
            if hit is not None:
                served, text = hit
                yield Started(served)
                yield TextDelta(text)
                yield Finished(served, text, Usage(), 0.0, call.ms(), call.ms(), "stop", ())
                return
        policy = self.config.policy(task)
        sent: list[str] = []
        served_by: Served | None = None
        for i, cand in enumerate(cands):
            if call.attempts and not policy.fallback:
                break
            if not self._eligible(call, cand, continuing=bool(sent)):
                continue
            reservation = await self._admit(call, cand)
            if reservation is None:
                continue
            this = self._served(call, cand)
            msgs = self._continuation(cand, "".join(sent)) if sent else cand.messages
            req = ChatRequest(msgs, cand.model.model_name, max_tokens=cand.max_tokens,
                              temperature=temperature, json_schema=json_schema,
                              schema_name=schema_name, passages=tuple(passages))
            got: list[str] = []
            end: StreamEnd | None = None
            error: ProviderError | None = None
            t0 = time.perf_counter()
            ttft: float | None = None
            try:
                async with aclosing(_items(cand, req)) as items:
                    async for item in items:
                        if isinstance(item, StreamEnd):
                            end = item
                            continue
                        if not item.text:
                            continue
                        if ttft is None:
                            ttft = time.perf_counter() - t0
                            kept = len("".join(sent))
                            if call.ttft_ms is None:
                                call.ttft_ms = call.ms()
                            yield (Started(this) if served_by is None
                                   else Failover(this, call.errors[-1], kept))
                            served_by = this
                        got.append(item.text)
                        sent.append(item.text)
                        yield item
                if end is None:
                    raise ProviderError("the stream ended without its end marker",
                                        provider=cand.model.provider, model=cand.model.id,
                                        before_first_token=ttft is None, kind="truncated")
            except ProviderError as exc:
                error = exc
            except Exception as exc:
                await self._book(call, cand, reservation, "error", self._partial(cand, msgs, got),
                                 time.perf_counter() - t0, ttft, exc)
                raise _translate(exc, cand) from exc
            except BaseException:  # the consumer went away (GeneratorExit / cancellation)
                await self._book(call, cand, reservation, "cancelled",
                                 self._partial(cand, msgs, got), time.perf_counter() - t0, ttft,
                                 None)
                raise
            seconds = time.perf_counter() - t0
            if error is None and end is not None:
                usage = end.usage if end.usage.input_tokens or end.usage.output_tokens else (
                    self._partial(cand, msgs, got))
                await self._book(call, cand, reservation, "ok", usage, seconds, ttft, None)
                self.breakers.get(cand.model.provider).record_success()
                if served_by is None:
                    served_by = this
                    yield Started(this)
                text = "".join(sent)
                if cache is not None and not this.degraded and len(got) == len(sent):
                    await self._cache_put(call, cand, cache, text, end.finish_reason)
                yield Finished(served_by, text, call.usage, call.cost, call.ms(),
                               call.ttft_ms, end.finish_reason,
                               tuple(call.attempts))
                return
            assert error is not None
            go_on = error.retryable and policy.fallback and (
                not sent or self.config.router.mid_stream == "continue")
            more = go_on and any(self._eligible(call, c, continuing=bool(sent))
                                 for c in cands[i + 1:])
            await self._fail(call, cand, reservation, error, self._partial(cand, msgs, got),
                             seconds, ttft, more)
            if not go_on:
                if not sent:
                    raise error
                yield StreamFailed(error, "".join(sent), served_by, call.cost,
                                   tuple(call.attempts))
                return
        if not sent:
            raise self._exhausted(call)
        last = call.errors[-1] if call.errors else self._exhausted(call)
        yield StreamFailed(last, "".join(sent), served_by, call.cost, tuple(call.attempts))

    async def complete(
        self,
        task: str,
        tenant: str,
        messages: MessagesArg,
        *,
        prompt: str | Prompt,
        passages: Sequence[SourcePassage] = (),
        max_tokens: int | None = None,
        temperature: float = 0.0,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "output",
        request_id: str | None = None,
        cache: CacheQuery | None = None,
    ) -> RoutedCompletion:
        """One whole reply with failover (each failed attempt restarts on the next candidate).

        With `json_schema`, only models with structured output are candidates, and the text is
        the JSON the provider returned (validation and re-asking are the caller's job).
        """
        call = _Call(task, tenant, _ref(prompt), request_id or uuid.uuid4().hex)
        cands = await asyncio.to_thread(  # token counting is CPU work: off the event loop
            self._plan, task, messages, max_tokens, json_schema is not None)
        if cache is not None:
            hit = await self._cache_lookup(call, cands, cache)
            if hit is not None:
                return RoutedCompletion(hit[1], Usage(), hit[0], 0.0, call.ms(), "stop", ())
        policy = self.config.policy(task)
        for i, cand in enumerate(cands):
            if call.attempts and not policy.fallback:
                break
            if not self._eligible(call, cand, continuing=False):
                continue
            reservation = await self._admit(call, cand)
            if reservation is None:
                continue
            req = ChatRequest(cand.messages, cand.model.model_name, max_tokens=cand.max_tokens,
                              temperature=temperature, json_schema=json_schema,
                              schema_name=schema_name, passages=tuple(passages))
            t0 = time.perf_counter()
            try:
                reply = await cand.provider.complete(req)
            except ProviderError as exc:
                go_on = exc.retryable and policy.fallback
                more = go_on and any(self._eligible(call, c, continuing=False)
                                     for c in cands[i + 1:])
                await self._fail(call, cand, reservation, exc, Usage(),
                                 time.perf_counter() - t0, None, more)
                if not go_on:
                    raise
                continue
            except BaseException as exc:
                cancelled = not isinstance(exc, Exception)
                await self._book(call, cand, reservation, "cancelled" if cancelled else "error",
                                 Usage(), time.perf_counter() - t0, None, exc)
                if cancelled:
                    raise
                raise _translate(exc, cand) from exc
            usage = reply.usage if reply.usage.input_tokens or reply.usage.output_tokens else (
                self._partial(cand, cand.messages, [reply.text]))
            await self._book(call, cand, reservation, "ok", usage, time.perf_counter() - t0,
                             None, None)
            self.breakers.get(cand.model.provider).record_success()
            served = self._served(call, cand)
            if cache is not None and not served.degraded:
                await self._cache_put(call, cand, cache, reply.text, reply.finish_reason)
            return RoutedCompletion(reply.text, call.usage, served, call.cost, call.ms(),
                                    reply.finish_reason, tuple(call.attempts))
        raise self._exhausted(call)

    # ---- helpers ----------------------------------------------------------------------------

    def _eligible(self, call: _Call, cand: Candidate, *, continuing: bool) -> bool:
        """Whether to try `cand` now, given what happened so far in this request."""
        if continuing and cand.extractive:
            return False
        refusal = call.budget_refusal
        downgrade = refusal is not None and self.config.budgets.allow_downgrade
        if cand.degraded and not (self.config.policy(call.task).degrade or downgrade):
            return False
        # A paid candidate costing at least what the budget just refused would be refused too.
        return not (refusal is not None and cand.estimated_cost_usd > 0
                    and cand.estimated_cost_usd >= refusal.details["requested_usd"])

    async def _admit(self, call: _Call, cand: Candidate) -> Reservation | None:
        """Reserve the estimate and claim the breaker; None means skip this candidate."""
        try:
            reservation = await self.budget.reserve(call.tenant, cand.estimated_cost_usd)
        except BudgetExceeded as exc:
            self.metrics.budget_refusals.labels(call.task).inc()
            call.budget_refusal = exc
            if not self.config.budgets.allow_downgrade:
                raise
            return None
        if not self.breakers.get(cand.model.provider).allow():
            await self.budget.release(reservation)
            return None
        return reservation

    def _served(self, call: _Call, cand: Candidate, *, cached: bool = False) -> Served:
        return Served(call.request_id, cand.model.provider, cand.model.id, cand.model.tier,
                      call.prompt, cached=cached, extractive=cand.extractive,
                      degraded=cand.degraded, structured=cand.structured,
                      attempt=0 if cached else len(call.attempts))

    def _continuation(self, cand: Candidate, partial: str) -> tuple[Message, ...]:
        return (*cand.messages, Message("assistant", partial),
                *self.prompts.get("continue").render())

    def _partial(self, cand: Candidate, msgs: Sequence[Message], got: list[str]) -> Usage:
        """Usage counted locally (a broken stream, or a server that reports none)."""
        if not got:
            return Usage()
        name = cand.model.model_name
        return Usage(count_messages(msgs, name), count_tokens("".join(got), name))

    async def _book(self, call: _Call, cand: Candidate, reservation: Reservation,
                    outcome: Outcome, usage: Usage, seconds: float, ttft: float | None,
                    error: BaseException | None) -> None:
        """Metrics, then the ledger row and settlement (which also drops the reservation)."""
        m = cand.model
        cost = m.cost_usd(usage.input_tokens, usage.output_tokens)
        call.usage = Usage(call.usage.input_tokens + usage.input_tokens,
                           call.usage.output_tokens + usage.output_tokens)
        call.cost += cost
        message = None if error is None else (str(error) or type(error).__name__)
        call.attempts.append(Attempt(m.provider, m.id, outcome, cost, message))
        self.metrics.attempt(provider=m.provider, model=m.id, task=call.task, outcome=outcome,
                             seconds=seconds, ttft_s=ttft, input_tokens=usage.input_tokens,
                             output_tokens=usage.output_tokens, cost_usd=cost)
        await self.budget.settle(reservation, CallRecord(
            request_id=call.request_id, tenant=call.tenant, task=call.task, provider=m.provider,
            model=m.id, tier=m.tier, prompt_version=call.prompt, outcome=outcome,
            attempt=len(call.attempts), input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens, cost_usd=cost, latency_ms=int(seconds * 1000),
            ttft_ms=None if ttft is None else int(ttft * 1000), error=message))

    async def _fail(self, call: _Call, cand: Candidate, reservation: Reservation,
                    error: ProviderError, usage: Usage, seconds: float, ttft: float | None,
                    more: bool) -> None:
        call.errors.append(error)
        if error.retryable:
            self.breakers.get(cand.model.provider).record_failure()
        kind = str(error.details.get("kind") or error.status or "error")
        self.metrics.error(provider=cand.model.provider, model=cand.model.id, task=call.task,
                           kind=kind)
        if more:
            phase = "before_first_token" if ttft is None else "mid_stream"
            self.metrics.fallbacks.labels(call.task, phase).inc()
        await self._book(call, cand, reservation, "fallback" if more else "error", usage,
                         seconds, ttft, error)

    def _exhausted(self, call: _Call) -> LLMError:
        """The error for a request that no candidate served."""
        if call.errors:
            last = call.errors[-1]
            tried = "; ".join(f"{a.provider}/{a.model}: {a.error}" for a in call.attempts)
            return ProviderError(
                f"all {len(call.attempts)} attempt(s) failed: {tried}", provider=last.provider,
                model=last.model, status=last.status, retryable=last.retryable,
                attempts=[a.__dict__ for a in call.attempts])
        if call.budget_refusal is not None:
            return call.budget_refusal
        return NoProviderAvailable(
            f"no healthy model could take task {call.task!r} right now (circuit breakers open "
            f"or nothing eligible). {HOW_TO_CONFIGURE}", task=call.task)

    def _key(self, call: _Call, cand: Candidate, query: CacheQuery) -> str:
        return cache_key(question=query.question, chunks=query.chunks,
                         prompt_version=call.prompt, model=f"{cand.model.provider}:{cand.model.id}")

    async def _cache_lookup(self, call: _Call, cands: list[Candidate],
                            query: CacheQuery) -> tuple[Served, str] | None:
        """A live cached answer for one of the non-degraded candidates (first in order)."""
        if self.cache is None or not self.config.cache.enabled:
            return None
        keyed = [(self._key(call, c, query), c) for c in cands if not c.degraded]
        found = await self.cache.get_many(call.tenant, [k for k, _ in keyed])
        for key, cand in keyed:
            entry = found.get(key)
            if entry is None or not isinstance(entry.payload.get("text"), str):
                continue
            self.metrics.cache.labels(call.task, "hit").inc()
            served = self._served(call, cand, cached=True)
            await self.ledger.record(CallRecord(
                request_id=call.request_id, tenant=call.tenant, task=call.task,
                provider=cand.model.provider, model=cand.model.id, tier=cand.model.tier,
                prompt_version=call.prompt, outcome="ok", attempt=0, cached=True,
                latency_ms=call.ms()))
            return served, entry.payload["text"]
        self.metrics.cache.labels(call.task, "miss").inc()
        return None

    async def _cache_put(self, call: _Call, cand: Candidate, query: CacheQuery, text: str,
                         finish_reason: str | None) -> None:
        if self.cache is None or not self.config.cache.enabled:
            return
        ttl = query.ttl_s if query.ttl_s is not None else self.config.cache.ttl_s
        await self.cache.put(call.tenant, self._key(call, cand, query),
                             {"text": text, "finish_reason": finish_reason,
                              "request_id": call.request_id},
                             model=cand.model.id, prompt_version=call.prompt, ttl_s=ttl)


async def _items(cand: Candidate, req: ChatRequest) -> AsyncGenerator[StreamItem, None]:
    """The provider's stream, or its whole reply as one piece when it cannot stream."""
    if not cand.streaming:
        reply = await cand.provider.complete(req)
        yield TextDelta(reply.text)
        yield StreamEnd(reply.usage, reply.finish_reason)
        return
    stream = cand.provider.stream(req)
    try:
        async for item in stream:
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def _translate(exc: BaseException, cand: Candidate) -> LLMError:
    """Non-retryable: an LLMError passes through, anything else becomes a ProviderError."""
    if isinstance(exc, LLMError):
        return exc
    return ProviderError(f"{cand.model.provider}: unexpected {type(exc).__name__}: {exc}",
                         provider=cand.model.provider, model=cand.model.id, retryable=False,
                         kind="unexpected")


def _ref(prompt: str | Prompt) -> str:
    return prompt.ref if isinstance(prompt, Prompt) else prompt
