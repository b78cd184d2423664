"""What the attempts of a routed request share, for `Router.complete` and `Router.stream` alike.

`Routing` is the part of a Router that every attempt needs: whether a candidate is eligible
now, who serves (`Served`), the `continue` prompt for an answer handed over mid-stream, and the
answer cache. `CandidateLoop` is the one candidate loop of both calls: it walks the planned
candidates in order, admits the next eligible one through the `Accountant`, and books a failed
attempt, telling whether the next candidate takes over.

Why a module of its own: the streaming failover (`streaming`) and the whole-reply failover
(`completion`) both need all of this; when it lived on the Router, `streaming` imported the
Router that imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipelines.llm.accounting import Accountant, CallState
from pipelines.llm.budget import Reservation
from pipelines.llm.cache import AnswerCache, cache_key
from pipelines.llm.candidates import Candidate
from pipelines.llm.config_model import LLMConfig
from pipelines.llm.errors import ProviderError
from pipelines.llm.metrics import LLMMetrics
from pipelines.llm.prompts import PromptRegistry
from pipelines.llm.route_request import CacheQuery
from pipelines.llm.router_events import Served
from pipelines.llm.semantic_cache import SemanticCache, context_hash
from pipelines.llm.types import Message, TokenUsage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheHit:
    """A live cached answer, and the candidate it is replayed as."""

    served: Served
    text: str


@dataclass(frozen=True)
class Routing:
    """A Router's configuration, accountant, prompts and caches, as its attempts use them."""

    config: LLMConfig
    accounts: Accountant
    prompts: PromptRegistry
    metrics: LLMMetrics
    cache: AnswerCache | None
    semantic: SemanticCache | None = None

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

    def continuation(self, cand: Candidate, partial: str) -> tuple[Message, ...]:
        """The candidate's messages, the partial answer so far, and the `continue` prompt."""
        return (*cand.messages, Message("assistant", partial),
                *self.prompts.get("continue").render())

    async def cached(self, call: CallState, cands: Sequence[Candidate],
                     query: CacheQuery | None) -> CacheHit | None:
        """A live cached answer for one of the non-degraded candidates (first in order): the
        exact cache, then the semantic one; None without a query, with the cache off, or on a
        miss."""
        if query is None or self.cache is None or not self.config.cache.enabled:
            return None
        keyed = [(self._key(call, c, query), c) for c in cands if not c.degraded]
        found = await self.cache.get_many(call.tenant, [k for k, _ in keyed])
        for key, cand in keyed:
            entry = found.get(key)
            if entry is None or not isinstance(entry.payload.get("text"), str):
                continue
            served = self.served(call, cand, cached=True)
            await self.accounts.cache_hit(call, cand)
            return CacheHit(replace(served, cache="exact"), entry.payload["text"])
        hit = await self._similar(call, [c for _, c in keyed], query)
        if hit is None:
            first = keyed[0][1].model.id if keyed else None  # who would have served it
            self.metrics.cache_lookup(task=call.task, result="miss", model=first,
                                      prompt=call.prompt)
        return hit

    def _semantic_on(self, query: CacheQuery) -> SemanticCache | None:
        on = (self.semantic is not None and query.semantic and bool(query.chunks)
              and self.config.cache.semantic)
        return self.semantic if on else None

    async def _similar(self, call: CallState, cands: Sequence[Candidate],
                       query: CacheQuery) -> CacheHit | None:
        """The semantic cache's answer for a similar question on the same context, tier and
        prompt version. The question's embedding is kept on `call` for `remember`; an
        embedder failure is a miss, never a failed answer."""
        semantic = self._semantic_on(query)
        if semantic is None or not cands:
            return None
        try:
            call.question_vector = await semantic.vector(query.question)
        except Exception:
            log.exception("semantic cache: embedding the question failed; a miss")
            return None
        if call.question_vector is None:
            return None
        tiers = list(dict.fromkeys(c.model.tier for c in cands))
        hit = await semantic.lookup(call.tenant, vector=call.question_vector,
                                    question=query.question, context=context_hash(query.chunks),
                                    prompt_version=call.prompt, tiers=tiers)
        if hit is None or not isinstance(hit.payload.get("text"), str):
            return None
        same_tier = [c for c in cands if c.model.tier == hit.tier]
        cand = next((c for c in same_tier if c.model.id == hit.model), same_tier[0])
        served = self.served(call, cand, cached=True)
        await self.accounts.cache_hit(call, cand, semantic=True)
        return CacheHit(replace(served, cache="semantic", cached_question=hit.question),
                        hit.payload["text"])

    async def remember(self, call: CallState, cand: Candidate, query: CacheQuery, text: str,
                       finish_reason: str | None) -> None:
        """Store a reply served by `cand` for `query` (when the cache is on): exactly, and by
        its question's embedding when the semantic lookup computed one."""
        if self.cache is None or not self.config.cache.enabled:
            return
        ttl = query.ttl_s if query.ttl_s is not None else self.config.cache.ttl_s
        key = self._key(call, cand, query)
        payload = {"text": text, "finish_reason": finish_reason, "request_id": call.request_id}
        await self.cache.put(call.tenant, key, payload, model=cand.model.id,
                             prompt_version=call.prompt, ttl_s=ttl)
        semantic = self._semantic_on(query)
        if semantic is not None and call.question_vector is not None:
            await semantic.put(call.tenant, key, vector=call.question_vector,
                               question=query.question, context=context_hash(query.chunks),
                               prompt_version=call.prompt, tier=cand.model.tier,
                               model=cand.model.id, payload=payload, ttl_s=ttl)

    def _key(self, call: CallState, cand: Candidate, query: CacheQuery) -> str:
        return cache_key(question=query.question, chunks=query.chunks,
                         prompt_version=call.prompt, model=f"{cand.model.provider}:{cand.model.id}")


@dataclass(frozen=True)
class Admitted:
    """A candidate whose estimated cost is reserved and whose breaker let the call through."""

    cand: Candidate
    reservation: Reservation


class CandidateLoop:
    """The planned candidates of one request, tried in order until one serves it.

    A candidate is skipped when it is not eligible (see `Routing.eligible`) or not admitted
    (budget or breaker); after a first attempt, a task without `fallback` tries no other.
    """

    def __init__(self, routing: Routing, call: CallState, cands: Sequence[Candidate]) -> None:
        self._routing = routing
        self._call = call
        self._cands = cands
        self._next = 0
        self._fallback = routing.config.policy(call.task).fallback

    async def next(self, *, continuing: bool) -> Admitted | None:
        """The next candidate admitted to try, or None when there is none left to try.

        `continuing`: an answer is under way (an extractive candidate cannot continue it).
        Raises BudgetExceeded when the budget refuses and downgrading is not allowed."""
        while self._next < len(self._cands):
            cand = self._cands[self._next]
            self._next += 1
            if self._call.attempts and not self._fallback:
                return None
            if not self._routing.eligible(self._call, cand, continuing=continuing):
                continue
            reservation = await self._routing.accounts.admit(self._call, cand)
            if reservation is not None:
                return Admitted(cand, reservation)
        return None

    async def fail(self, admitted: Admitted, error: ProviderError, usage: TokenUsage,
                   seconds: float, ttft: float | None, *, continuing: bool) -> bool:
        """Book a failed attempt; returns whether the loop goes on to the next candidate.

        It goes on when the error is retryable, the task allows fallback and, with an answer
        under way, `router.mid_stream` is "continue"; the row says "fallback" only when some
        later candidate is eligible to take over."""
        go_on = error.retryable and self._fallback and (
            not continuing or self._routing.config.router.mid_stream == "continue")
        more = go_on and any(self._routing.eligible(self._call, c, continuing=continuing)
                             for c in self._cands[self._next:])
        await self._routing.accounts.fail(self._call, admitted.cand, admitted.reservation,
                                          error, usage, seconds, ttft, more)
        return go_on
