"""The router: pick the cheapest healthy model that meets a task's tier, fail over, account.

Candidates come from `candidates.find_candidates` (cheapest first at the task's tier, then
lower tiers, used only when the task may degrade or the budget forces a downgrade). Every
attempt reserves its estimated cost in the tenant's budget, books one ledger row with the
actual cost, and feeds the provider's circuit breaker and the metrics.

A call is one `RouteRequest`. The router plans its candidates and checks the answer caches
(exact, then semantic: `semantic_cache`) here; the attempts run in
`completion.complete_with_failover` (whole replies) or `streaming.failover_stream` (which
continues a broken answer on another model mid-stream), both on the shared candidate loop and
attempt helpers of `attempts`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any

from pipelines.llm.accounting import HOW_TO_CONFIGURE, Accountant, CallState
from pipelines.llm.attempts import Routing
from pipelines.llm.breaker import BreakerBoard, Clock
from pipelines.llm.budget import Budget
from pipelines.llm.cache import AnswerCache
from pipelines.llm.candidates import Candidate, MessagesArg, find_candidates
from pipelines.llm.completion import complete_with_failover
from pipelines.llm.config_model import LLMConfig
from pipelines.llm.errors import NoProviderAvailable
from pipelines.llm.ledger import Ledger
from pipelines.llm.metrics import LLMMetrics
from pipelines.llm.prompts import PromptRegistry
from pipelines.llm.protocol import ChatProvider
from pipelines.llm.route_request import RouteRequest
from pipelines.llm.router_events import Finished, RoutedCompletion, RouterEvent, Started
from pipelines.llm.semantic_cache import SemanticCache
from pipelines.llm.streaming import failover_stream
from pipelines.llm.types import TextDelta, TokenUsage

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
        semantic_cache: SemanticCache | None = None,
    ) -> None:
        self.config = config
        self.providers = dict(providers)
        self.budget = budget
        self.ledger = ledger
        self.metrics = metrics or LLMMetrics()
        self.cache = cache
        self.semantic_cache = semantic_cache
        self.prompts = prompts or PromptRegistry()
        self.breakers = BreakerBoard(
            failures_to_open=config.breaker.failures_to_open,
            cooldown_s=config.breaker.cooldown_s,
            clock=clock,
            on_change=self.metrics.breaker_changed,
        )
        self.accounts = Accountant(budget, ledger, self.metrics, self.breakers,
                                   allow_downgrade=config.budgets.allow_downgrade)
        self._routing = Routing(config, self.accounts, self.prompts, self.metrics, cache,
                                semantic_cache)

    # ---- choosing ---------------------------------------------------------------------------

    def candidates(
        self,
        task: str,
        messages: MessagesArg = (),
        *,
        max_tokens: int | None = None,
        structured: bool = False,
        skipped: dict[str, str] | None = None,
        tools: bool = False,
        stop: bool = False,
    ) -> list[Candidate]:
        """Usable models for `task` in trying order (see `candidates.find_candidates`)."""
        return find_candidates(self.config, self.providers, self.breakers, task, messages,
                               max_tokens=max_tokens, structured=structured, skipped=skipped,
                               tools=tools, stop=stop)

    def health(self) -> list[dict[str, Any]]:
        """Every configured model with its provider's state (for health output and `doctor`)."""
        states = self.breakers.states()
        return [{"model": m.id, "provider": m.provider, "tier": m.tier,
                 "built": m.provider in self.providers,
                 "breaker": str(states.get(m.provider, "closed"))}
                for m in self.config.models]

    def _plan(self, request: RouteRequest) -> list[Candidate]:
        """The request's candidates; NoProviderAvailable, with why each model was skipped, when
        there is none at all (the caller can tell the operator what to configure)."""
        skipped: dict[str, str] = {}
        cands = self.candidates(request.task, request.messages, max_tokens=request.max_tokens,
                                structured=request.structured, skipped=skipped,
                                tools=request.uses_tools, stop=bool(request.stop))
        if not cands:
            policy = self.config.policy(request.task)
            needs = "".join(f", {need}" for need, asked in (
                ("structured output", request.structured), ("tool calling", request.uses_tools),
                ("stop sequences", bool(request.stop))) if asked)
            raise NoProviderAvailable(
                f"no model can serve task {request.task!r} (tier >= {policy.min_tier}"
                f"{needs}). {HOW_TO_CONFIGURE}",
                task=request.task, min_tier=policy.min_tier, skipped=skipped)
        return cands

    async def _start(self, request: RouteRequest) -> tuple[CallState, list[Candidate]]:
        """The request's bookkeeping, and its candidates in trying order."""
        call = CallState(request.task, request.tenant, request.prompt_ref,
                         request.request_id or uuid.uuid4().hex)
        # Token counting is CPU work: off the event loop.
        cands = await asyncio.to_thread(self._plan, request)
        return call, cands

    # ---- running ----------------------------------------------------------------------------

    async def stream(self, request: RouteRequest) -> AsyncGenerator[RouterEvent, None]:
        """Stream a reply with failover: Started, TextDelta..., then Finished or StreamFailed
        (see `streaming.failover_stream`); a cached answer is replayed as one TextDelta.

        Raises (before yielding anything) NoProviderAvailable, BudgetExceeded or ProviderError
        when no candidate produced a first token.
        """
        call, cands = await self._start(request)
        hit = await self._routing.cached(call, cands, request.cache)
        if hit is not None:
            yield Started(hit.served)
            yield TextDelta(hit.text)
            yield Finished(hit.served, hit.text, TokenUsage(), 0.0, call.ms(), call.ms(),
                           "stop", ())
            return
        async with aclosing(failover_stream(self._routing, call, cands, request)) as events:
            async for event in events:
                yield event

    async def complete(self, request: RouteRequest) -> RoutedCompletion:
        """One whole reply with failover (each failed attempt restarts on the next candidate).

        With `json_schema`, only models with structured output are candidates, and the text is
        the JSON the provider returned (validation and re-asking are the caller's job).
        """
        call, cands = await self._start(request)
        hit = await self._routing.cached(call, cands, request.cache)
        if hit is not None:
            return RoutedCompletion(hit.text, TokenUsage(), hit.served, 0.0, call.ms(), "stop", ())
        return await complete_with_failover(self._routing, call, cands, request)
