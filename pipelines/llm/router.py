"""The router: pick the cheapest healthy model that meets a task's tier, fail over, account.

Candidates come from `candidates.find_candidates` (cheapest first at the task's tier, then
lower tiers, used only when the task may degrade or the budget forces a downgrade). Every
attempt reserves its estimated cost in the tenant's budget, books one ledger row with the
actual cost, and feeds the provider's circuit breaker and the metrics.

`complete` fails over between whole replies here; `stream` plans and checks the cache here,
then runs the streaming failover loop of `streaming.failover_stream` (which continues a
broken answer on another model mid-stream).
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
    unexpected_error,
)
from pipelines.llm.breaker import BreakerBoard, Clock
from pipelines.llm.budget import Budget
from pipelines.llm.cache import AnswerCache, cache_key
from pipelines.llm.candidates import Candidate, MessagesArg, find_candidates
from pipelines.llm.config_model import LLMConfig
from pipelines.llm.errors import NoProviderAvailable, ProviderError
from pipelines.llm.ledger import Ledger, Outcome
from pipelines.llm.metrics import LLMMetrics
from pipelines.llm.prompts import Prompt, PromptRegistry
from pipelines.llm.protocol import ChatProvider
from pipelines.llm.router_events import (
    CacheQuery,
    Finished,
    RoutedCompletion,
    RouterEvent,
    Served,
    Started,
)
from pipelines.llm.streaming import failover_stream
from pipelines.llm.types import ChatRequest, SourcePassage, TextDelta, TokenUsage

__all__ = ["Router"]


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
        """Stream a reply with failover: Started, TextDelta..., then Finished or StreamFailed
        (see `streaming.failover_stream`).

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
                yield Finished(served, text, TokenUsage(), 0.0, call.ms(), call.ms(), "stop", ())
                return
        async with aclosing(failover_stream(
                self, call, cands, temperature=temperature, json_schema=json_schema,
                schema_name=schema_name, passages=tuple(passages), cache=cache)) as events:
            async for event in events:
                yield event

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
                return RoutedCompletion(hit[1], TokenUsage(), hit[0], 0.0, call.ms(), "stop", ())
        policy = self.config.policy(task)
        for i, cand in enumerate(cands):
            if call.attempts and not policy.fallback:
                break
            if not self.eligible(call, cand, continuing=False):
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
                more = go_on and any(self.eligible(call, c, continuing=False)
                                     for c in cands[i + 1:])
                await self.accounts.fail(call, cand, reservation, exc, TokenUsage(),
                                         time.perf_counter() - t0, None, more)
                if not go_on:
                    raise
                continue
            except BaseException as exc:
                cancelled = not isinstance(exc, Exception)
                outcome: Outcome = "cancelled" if cancelled else "error"
                await self.accounts.book(call, cand, reservation, outcome, TokenUsage(),
                                         time.perf_counter() - t0, None, exc)
                if cancelled:
                    raise
                raise unexpected_error(exc, cand) from exc
            served = self.served(call, cand)
            usage = reply.usage if reply.usage.input_tokens or reply.usage.output_tokens else (
                counted_usage(cand, cand.messages, [reply.text]))
            await self.accounts.book(call, cand, reservation, "ok", usage,
                                     time.perf_counter() - t0, None, None)
            if cache is not None and not served.degraded:
                await self.cache_put(call, cand, cache, reply.text, reply.finish_reason)
            return RoutedCompletion(reply.text, call.usage, served, call.cost, call.ms(),
                                    reply.finish_reason, tuple(call.attempts))
        raise exhausted(call)

    # ---- helpers ----------------------------------------------------------------------------

    def eligible(self, call: CallState, cand: Candidate, *, continuing: bool) -> bool:
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

    def served(self, call: CallState, cand: Candidate, *, cached: bool = False) -> Served:
        """Who serves this attempt (for `Started`, `Failover` and completions)."""
        return Served(call.request_id, cand.model.provider, cand.model.id, cand.model.tier,
                      call.prompt, cached=cached, extractive=cand.extractive,
                      degraded=cand.degraded, structured=cand.structured,
                      attempt=0 if cached else len(call.attempts) + 1)

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
            served = self.served(call, cand, cached=True)
            await self.accounts.cache_hit(call, cand)
            return served, entry.payload["text"]
        self.metrics.cache.labels(call.task, "miss").inc()
        return None

    async def cache_put(self, call: CallState, cand: Candidate, query: CacheQuery, text: str,
                        finish_reason: str | None) -> None:
        """Store a reply served by `cand` for `query` (when the cache is on)."""
        if self.cache is None or not self.config.cache.enabled:
            return
        ttl = query.ttl_s if query.ttl_s is not None else self.config.cache.ttl_s
        await self.cache.put(call.tenant, self._key(call, cand, query),
                             {"text": text, "finish_reason": finish_reason,
                              "request_id": call.request_id},
                             model=cand.model.id, prompt_version=call.prompt, ttl_s=ttl)


def _ref(prompt: str | Prompt) -> str:
    return prompt.ref if isinstance(prompt, Prompt) else prompt
