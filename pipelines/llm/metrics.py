"""Prometheus collectors of the LLM layer, registered on a registry the caller owns.

A registry is passed in (never the global one) so that tests and several apps in one process
do not clash; the composition root registers it and serves it at /metrics. Labels are
provider/model/task only: tenant ids would make the series count unbounded.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pipelines.llm.breaker import BreakerState

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
_TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15)
BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class LLMMetrics:
    """Latency, time to first token, tokens, cost, cache, errors, fallbacks and breaker state."""

    def __init__(self, registry: CollectorRegistry | None = None, *,
                 namespace: str = "lectern") -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r, ns = self.registry, namespace
        self.latency = Histogram(
            "llm_request_seconds", "Duration of one provider attempt, by outcome.",
            ["provider", "model", "task", "outcome"], namespace=ns, registry=r,
            buckets=_LATENCY_BUCKETS)
        self.ttft = Histogram(
            "llm_ttft_seconds", "Time from sending a request to its first streamed token.",
            ["provider", "model", "task"], namespace=ns, registry=r, buckets=_TTFT_BUCKETS)
        self.tokens = Counter(
            "llm_tokens", "Tokens processed, by direction (input/output).",
            ["provider", "model", "task", "direction"], namespace=ns, registry=r)
        self.cost = Counter(
            "llm_cost_usd", "Cost in USD at list price.",
            ["provider", "model", "task"], namespace=ns, registry=r)
        self.cache = Counter(
            "llm_cache_lookups",
            "Answer cache lookups, by result (hit: exact, semantic_hit, miss).",
            ["task", "result"], namespace=ns, registry=r)
        self.errors = Counter(
            "llm_provider_errors", "Failed provider attempts, by error kind.",
            ["provider", "model", "task", "kind"], namespace=ns, registry=r)
        self.fallbacks = Counter(
            "llm_fallbacks", "Times a request moved on to the next candidate.",
            ["task", "phase"], namespace=ns, registry=r)
        self.budget_refusals = Counter(
            "llm_budget_refusals", "Calls refused or downgraded by a tenant budget.",
            ["task"], namespace=ns, registry=r)
        self.breaker = Gauge(
            "llm_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["provider"], namespace=ns, registry=r,
            multiprocess_mode="livemax")  # several processes: the worst live breaker

    def breaker_changed(self, provider: str, state: BreakerState) -> None:
        """Listener for BreakerBoard(on_change=...)."""
        self.breaker.labels(provider=provider).set(BREAKER_VALUES[state])

    def attempt(self, *, provider: str, model: str, task: str, outcome: str, seconds: float,
                ttft_s: float | None, input_tokens: int, output_tokens: int,
                cost_usd: float) -> None:
        """Observe one finished provider attempt."""
        self.latency.labels(provider, model, task, outcome).observe(seconds)
        if ttft_s is not None:
            self.ttft.labels(provider, model, task).observe(ttft_s)
        if input_tokens:
            self.tokens.labels(provider, model, task, "input").inc(input_tokens)
        if output_tokens:
            self.tokens.labels(provider, model, task, "output").inc(output_tokens)
        if cost_usd:
            self.cost.labels(provider, model, task).inc(cost_usd)

    def error(self, *, provider: str, model: str, task: str, kind: str) -> None:
        self.errors.labels(provider, model, task, kind).inc()
