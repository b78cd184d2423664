"""The router: pick the cheapest healthy model that meets a task's tier, fail over, account.

Candidates come from `candidates.find_candidates` (cheapest first at the task's tier, then
lower tiers, used only when the task may degrade or the budget forces a downgrade). Every
attempt reserves its estimated cost in the tenant's budget, books one ledger row with the
actual cost, and feeds the provider's circuit breaker and the metrics.

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
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

from pipelines.llm.accounting import (
    HOW_TO_CONFIGURE,
    Accountant,
    CallState,
    counted_usage,
    exhausted,
)
from pipelines.llm.breaker import BreakerBoard, Clock
from pipelines.llm.budget import Budget
from pipelines.llm.cache import AnswerCache, cache_key
from pipelines.llm.candidates import Candidate, MessagesArg, find_candidates
from pipelines.llm.config import LLMConfig
from pipelines.llm.errors import LLMError, NoProviderAvailable, ProviderError
from pipelines.llm.ledger import Ledger, Outcome
from pipelines.llm.metrics import LLMMetrics
from pipelines.llm.prompts import Prompt, PromptRegistry
from pipelines.llm.protocol import ChatProvider
from pipelines.llm.router_events import (
    Attempt,
    CacheQuery,
    Failover,
    Finished,
    RoutedCompletion,
    RouterEvent,
    Served,
    Started,
    StreamFailed,
)
from pipelines.llm.types import (
    ChatRequest,
    Message,
    SourcePassage,
    StreamEnd,
    StreamItem,
    TextDelta,
    Usage,
)

__all__ = ["Attempt", "CacheQuery", "Candidate", "Failover", "Finished", "MessagesArg",
           "RoutedCompletion", "Router", "RouterEvent", "Served", "Started", "StreamFailed"]


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
        self.accounts = Accountant(budget, ledger, self.metrics, self.breakers,
                                   allow_downgrade=config.budgets.allow_downgrade)

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
        """Usable models for `task` in trying order (see `candidates.find_candidates`)."""
        return find_candidates(self.config, self.providers, self.breakers, task, messages,
                               max_tokens=max_tokens, structured=structured, skipped=skipped)

    def health(self) -> list[dict[str, Any]]:
        """Every configured model with its provider's state (for health output and `doctor`)."""
        states = self.breakers.states()
        return [{"model": m.id, "provider": m.provider, "tier": m.tier,
                 "built": m.provider in self.providers,
                 "breaker": str(states.get(m.provider, "closed"))}
                for m in self.config.models]

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
    ) -> AsyncGenerator[RouterEvent, None]:
        """Stream a reply with failover: Started, TextDelta..., then Finished or StreamFailed.

        Raises (before yielding anything) NoProviderAvailable, BudgetExceeded or ProviderError
        when no candidate produced a first token.
        """
        call = CallState(task, tenant, _ref(prompt), request_id or uuid.uuid4().hex)
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
            reservation = await self.accounts.admit(call, cand)
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
                await self.accounts.book(call, cand, reservation, "error",
                                         counted_usage(cand, msgs, got),
                                         time.perf_counter() - t0, ttft, exc)
                raise _translate(exc, cand) from exc
            except BaseException:  # the consumer went away (GeneratorExit / cancellation)
                await self.accounts.book(call, cand, reservation, "cancelled",
                                         counted_usage(cand, msgs, got),
                                         time.perf_counter() - t0, ttft, None)
                raise
            seconds = time.perf_counter() - t0
            if error is None and end is not None:
                usage = end.usage if end.usage.input_tokens or end.usage.output_tokens else (
                    counted_usage(cand, msgs, got))
                await self.accounts.book(call, cand, reservation, "ok", usage, seconds, ttft, None)
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
            await self.accounts.fail(call, cand, reservation, error,
                                     counted_usage(cand, msgs, got), seconds, ttft, more)
            if not go_on:
                if not sent:
                    raise error
                yield StreamFailed(error, "".join(sent), served_by, call.cost,
                                   tuple(call.attempts))
                return
        if not sent:
            raise exhausted(call)
        last = call.errors[-1] if call.errors else exhausted(call)
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
        call = CallState(task, tenant, _ref(prompt), request_id or uuid.uuid4().hex)
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
            reservation = await self.accounts.admit(call, cand)
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
                await self.accounts.fail(call, cand, reservation, exc, Usage(),
                                         time.perf_counter() - t0, None, more)
                if not go_on:
                    raise
                continue
            except BaseException as exc:
                cancelled = not isinstance(exc, Exception)
                outcome: Outcome = "cancelled" if cancelled else "error"
                await self.accounts.book(call, cand, reservation, outcome, Usage(),
                                         time.perf_counter() - t0, None, exc)
                if cancelled:
                    raise
                raise _translate(exc, cand) from exc
            served = self._served(call, cand)
            usage = reply.usage if reply.usage.input_tokens or reply.usage.output_tokens else (
                counted_usage(cand, cand.messages, [reply.text]))
            await self.accounts.book(call, cand, reservation, "ok", usage,
                                     time.perf_counter() - t0, None, None)
            if cache is not None and not served.degraded:
                await self._cache_put(call, cand, cache, reply.text, reply.finish_reason)
            return RoutedCompletion(reply.text, call.usage, served, call.cost, call.ms(),
                                    reply.finish_reason, tuple(call.attempts))
        raise exhausted(call)

    # ---- helpers ----------------------------------------------------------------------------

    def _eligible(self, call: CallState, cand: Candidate, *, continuing: bool) -> bool:
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

    def _served(self, call: CallState, cand: Candidate, *, cached: bool = False) -> Served:
        return Served(call.request_id, cand.model.provider, cand.model.id, cand.model.tier,
                      call.prompt, cached=cached, extractive=cand.extractive,
                      degraded=cand.degraded, structured=cand.structured,
                      attempt=0 if cached else len(call.attempts) + 1)

    def _continuation(self, cand: Candidate, partial: str) -> tuple[Message, ...]:
        return (*cand.messages, Message("assistant", partial),
                *self.prompts.get("continue").render())

    def _key(self, call: CallState, cand: Candidate, query: CacheQuery) -> str:
        return cache_key(question=query.question, chunks=query.chunks,
                         prompt_version=call.prompt, model=f"{cand.model.provider}:{cand.model.id}")

    async def _cache_lookup(self, call: CallState, cands: list[Candidate],
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
            served = self._served(call, cand, cached=True)
            await self.accounts.cache_hit(call, cand)
            return served, entry.payload["text"]
        self.metrics.cache.labels(call.task, "miss").inc()
        return None

    async def _cache_put(self, call: CallState, cand: Candidate, query: CacheQuery, text: str,
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
