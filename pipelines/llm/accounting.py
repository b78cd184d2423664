"""Per-request bookkeeping of the router: budget reservations, ledger rows, breakers, metrics.

One `CallState` follows a request through its attempts; the `Accountant` admits an attempt
(reserve the estimate, claim the provider's breaker), books it (one ledger row with the actual
cost, settled atomically against the reservation); the usage booked is the provider's, or
counted locally when it reported none (`reply_usage`). `exhausted` and `unexpected_error` turn
a request nobody served, or an attempt's surprise, into the right error. Ledger writes run to
their end even when the request is cancelled (see `Accountant._write`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pipelines.llm.breaker import BreakerBoard
from pipelines.llm.budget import Budget, Reservation
from pipelines.llm.candidates import Candidate
from pipelines.llm.errors import BudgetExceeded, LLMError, NoProviderAvailable, ProviderError
from pipelines.llm.ledger import CallRecord, Ledger, Outcome
from pipelines.llm.metrics import LLMMetrics
from pipelines.llm.router_events import Attempt
from pipelines.llm.tokens import count_messages, count_tokens
from pipelines.llm.types import Message, TokenUsage

T = TypeVar("T")

HOW_TO_CONFIGURE = (
    "Configure a model: set OPENAI_API_KEY (plus OPENAI_BASE_URL for any OpenAI-compatible "
    "server), or LECTERN_LOCAL_MODEL_PATH for a local GGUF model, or point LECTERN_CONFIG at a "
    "TOML file (see docs/llm-config.md)."
)


@dataclass
class CallState:
    """What one routed request has done and spent so far."""

    task: str
    tenant: str
    prompt: str
    request_id: str
    t0: float = field(default_factory=time.perf_counter)
    attempts: list[Attempt] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost: float = 0.0
    errors: list[ProviderError] = field(default_factory=list)
    budget_refusal: BudgetExceeded | None = None
    ttft_ms: int | None = None
    question_vector: list[float] | None = None  # embedded for the semantic cache, then kept

    def ms(self) -> int:
        """Milliseconds since the request started."""
        return int((time.perf_counter() - self.t0) * 1000)


def counted_usage(cand: Candidate, msgs: Sequence[Message], got: list[str]) -> TokenUsage:
    """Usage counted locally (a broken stream, or a server that reports none)."""
    if not got:
        return TokenUsage()
    name = cand.model.model_name
    return TokenUsage(count_messages(msgs, name), count_tokens("".join(got), name))


def reply_usage(reported: TokenUsage, cand: Candidate, msgs: Sequence[Message],
                got: list[str]) -> TokenUsage:
    """The usage the provider reported for a reply, else (it reported none) counted locally."""
    if reported.input_tokens or reported.output_tokens:
        return reported
    return counted_usage(cand, msgs, got)


class Accountant:
    """Admits and books attempts; shared by all requests of one Router."""

    def __init__(self, budget: Budget, ledger: Ledger, metrics: LLMMetrics,
                 breakers: BreakerBoard, *, allow_downgrade: bool) -> None:
        self.budget = budget
        self.ledger = ledger
        self.metrics = metrics
        self.breakers = breakers
        self.allow_downgrade = allow_downgrade
        self._writing: set[asyncio.Future[Any]] = set()  # strong refs until each write ends

    async def admit(self, call: CallState, cand: Candidate) -> Reservation | None:
        """Reserve the estimate and claim the breaker; None means skip this candidate.

        Raises BudgetExceeded when the budget refuses and downgrading is not allowed."""
        try:
            reservation = await self._reserve(call.tenant, cand.estimated_cost_usd, call.task)
        except BudgetExceeded as exc:
            self.metrics.budget_refusals.labels(call.task).inc()
            call.budget_refusal = exc
            if not self.allow_downgrade:
                raise
            return None
        if not self.breakers.get(cand.model.provider).allow():
            await self._write(self.budget.release(reservation))
            return None
        return reservation

    async def book(self, call: CallState, cand: Candidate, reservation: Reservation,
                   outcome: Outcome, usage: TokenUsage, seconds: float, ttft: float | None,
                   error: BaseException | None) -> None:
        """Metrics, then the ledger row and settlement (which also drops the reservation)."""
        m = cand.model
        cost = m.cost_usd(usage.input_tokens, usage.output_tokens)
        call.usage = TokenUsage(call.usage.input_tokens + usage.input_tokens,
                           call.usage.output_tokens + usage.output_tokens)
        call.cost += cost
        message = None if error is None else (str(error) or type(error).__name__)
        call.attempts.append(Attempt(m.provider, m.id, outcome, cost, message))
        self.metrics.attempt(provider=m.provider, model=m.id, task=call.task, outcome=outcome,
                             seconds=seconds, ttft_s=ttft, input_tokens=usage.input_tokens,
                             output_tokens=usage.output_tokens, cost_usd=cost,
                             prompt=call.prompt)
        if outcome == "ok":
            self.breakers.get(m.provider).record_success()
        await self._write(self.budget.settle(reservation, CallRecord(
            request_id=call.request_id, tenant=call.tenant, task=call.task, provider=m.provider,
            model=m.id, tier=m.tier, prompt_version=call.prompt, outcome=outcome,
            attempt=len(call.attempts), input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens, cost_usd=cost, latency_ms=int(seconds * 1000),
            ttft_ms=None if ttft is None else int(ttft * 1000), error=message)))

    async def fail(self, call: CallState, cand: Candidate, reservation: Reservation,
                   error: ProviderError, usage: TokenUsage, seconds: float, ttft: float | None,
                   more: bool) -> None:
        """Book a failed attempt; `more` says whether another candidate will take over."""
        call.errors.append(error)
        if error.retryable:
            self.breakers.get(cand.model.provider).record_failure()
        kind = str(error.details.get("kind") or error.status or "error")
        self.metrics.error(provider=cand.model.provider, model=cand.model.id, task=call.task,
                           kind=kind)
        if more:
            phase = "before_first_token" if ttft is None else "mid_stream"
            self.metrics.fallbacks.labels(call.task, phase).inc()
        await self.book(call, cand, reservation, "fallback" if more else "error", usage,
                        seconds, ttft, error)

    async def cache_hit(self, call: CallState, cand: Candidate, *, semantic: bool = False
                        ) -> None:
        """A replayed answer: one ledger row, cached, free; counted as an exact or a
        semantic hit."""
        self.metrics.cache_lookup(task=call.task, result="semantic_hit" if semantic else "hit",
                                  model=cand.model.id, prompt=call.prompt)
        await self._write(self.ledger.record(CallRecord(
            request_id=call.request_id, tenant=call.tenant, task=call.task,
            provider=cand.model.provider, model=cand.model.id, tier=cand.model.tier,
            prompt_version=call.prompt, outcome="ok", attempt=0, cached=True,
            latency_ms=call.ms())))

    async def _write(self, write: Coroutine[Any, Any, None]) -> None:
        """Run a ledger write to its end even if the caller is cancelled meanwhile.

        Why: attempts are booked on the way out of cancelled requests (a client that hung up),
        and inside a cancelled anyio scope every await is cancelled again. Cancelling an
        `asyncio.to_thread` await also cancels its executor job, which then never runs if no
        worker thread had picked it up yet: the row would be lost, at random. So the write is a
        task of its own that the caller's cancellation does not reach; the caller waits for it
        (and sees its errors) unless it is cancelled first.
        """
        await asyncio.shield(self._own(write))

    async def _reserve(self, tenant: str, amount_usd: float, task_name: str) -> Reservation:
        """`budget.reserve`, without leaving a reservation behind when the caller is cancelled
        while it is being made (its thread may already be inserting the row): the reservation
        is then released as soon as it exists, instead of holding budget until it goes stale.
        """
        task = self._own(self.budget.reserve(tenant, amount_usd, task_name))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._release_orphan)
            raise

    def _release_orphan(self, task: asyncio.Future[Reservation]) -> None:
        if not task.cancelled() and task.exception() is None:
            self._own(self.budget.release(task.result()))

    def _own(self, work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """`work` as a task this object keeps a reference to until it ends."""
        task = asyncio.ensure_future(work)
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
        return task


def exhausted(call: CallState) -> LLMError:
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


def unexpected_error(exc: BaseException, cand: Candidate) -> LLMError:
    """What an attempt's unexpected failure raises (not retried on another candidate): an
    LLMError passes through, anything else becomes a non-retryable ProviderError."""
    if isinstance(exc, LLMError):
        return exc
    return ProviderError(f"{cand.model.provider}: unexpected {type(exc).__name__}: {exc}",
                         provider=cand.model.provider, model=cand.model.id, retryable=False,
                         kind="unexpected")
