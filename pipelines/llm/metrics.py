"""Prometheus collectors of the LLM layer, registered on a registry the caller owns.

A registry is passed in (never the global one) so that tests and several apps in one process
do not clash; the composition root registers it and serves it at /metrics. Labels are
provider/model/task and the prompt version only: tenant ids would make the series count
unbounded, while models come from the config and prompt versions from the registry.

The quality and cost signals, by task, model and prompt version: `llm_attempts` (every
attempt and cache replay by outcome: the fallback and error rates), `llm_output_tokens` (the
distribution per answered attempt), `llm_cache_results` (hit, semantic_hit, miss: the cache
hit rates; a miss is labelled with the first model it would have been served by),
`answers` (sufficient or insufficient evidence: the insufficient-evidence rate), and
`extract_attempts` (valid, parse_failure, schema_failure) with `extractions` (valid at the
first attempt, valid after re-asking, accepted invalid, failed: the re-ask rate).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pipelines.llm.breaker import BreakerState

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
_TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15)
_TOKEN_BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
NO_LABEL = "none"
MAX_LABEL = 80


def label(value: str | None) -> str:
    """A label value: `NO_LABEL` when absent, cut to MAX_LABEL characters."""
    return (value or NO_LABEL)[:MAX_LABEL]


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
        self.attempts = Counter(
            "llm_attempts", "Attempts and cache replays by outcome (ok, fallback, error, "
            "cancelled, cached), per task, model and prompt version.",
            ["task", "model", "prompt", "outcome"], namespace=ns, registry=r)
        self.output_tokens = Histogram(
            "llm_output_tokens", "Output tokens of each answered attempt.",
            ["task", "model", "prompt"], namespace=ns, registry=r, buckets=_TOKEN_BUCKETS)
        self.cache_results = Counter(
            "llm_cache_results", "Answer cache lookups (hit, semantic_hit, miss) per task, "
            "model and prompt version.", ["task", "model", "prompt", "result"],
            namespace=ns, registry=r)
        self.answers = Counter(
            "answers", "Answers by evidence (sufficient, insufficient), per model and prompt "
            "version (model none: no model was called).", ["model", "prompt", "evidence"],
            namespace=ns, registry=r)
        self.extract_attempts = Counter(
            "extract_attempts", "Extraction attempts by result (valid, parse_failure, "
            "schema_failure), per model and prompt version.", ["model", "prompt", "result"],
            namespace=ns, registry=r)
        self.extractions = Counter(
            "extractions", "Extractions by outcome (valid, valid_after_reask, "
            "accepted_invalid, failed), per model and first prompt version.",
            ["model", "prompt", "outcome"], namespace=ns, registry=r)
        self.breaker = Gauge(
            "llm_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["provider"], namespace=ns, registry=r,
            multiprocess_mode="livemax")  # several processes: the worst live breaker

    def breaker_changed(self, provider: str, state: BreakerState) -> None:
        """Listener for BreakerBoard(on_change=...)."""
        self.breaker.labels(provider=provider).set(BREAKER_VALUES[state])

    def attempt(self, *, provider: str, model: str, task: str, outcome: str, seconds: float,
                ttft_s: float | None, input_tokens: int, output_tokens: int,
                cost_usd: float, prompt: str | None = None) -> None:
        """Observe one finished provider attempt (`prompt`: its exact prompt version)."""
        self.latency.labels(provider, model, task, outcome).observe(seconds)
        self.attempts.labels(task, label(model), label(prompt), outcome).inc()
        if outcome == "ok":
            self.output_tokens.labels(task, label(model), label(prompt)).observe(output_tokens)
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

    def cache_lookup(self, *, task: str, result: str, model: str | None,
                     prompt: str | None) -> None:
        """Count one answer-cache lookup: `result` hit, semantic_hit or miss."""
        self.cache.labels(task, result).inc()
        self.cache_results.labels(task, label(model), label(prompt), result).inc()
        if result != "miss":
            self.attempts.labels(task, label(model), label(prompt), "cached").inc()

    def answered(self, *, model: str | None, prompt: str | None, insufficient: bool) -> None:
        """Count one answer, by whether it had the evidence to answer."""
        evidence = "insufficient" if insufficient else "sufficient"
        self.answers.labels(label(model), label(prompt), evidence).inc()

    def extract_attempt(self, *, model: str, prompt: str, result: str) -> None:
        """Count one extraction attempt: valid, parse_failure or schema_failure."""
        self.extract_attempts.labels(label(model), label(prompt), result).inc()

    def extracted(self, *, model: str, prompt: str, outcome: str) -> None:
        """Count one extraction's end: valid, valid_after_reask, accepted_invalid, failed."""
        self.extractions.labels(label(model), label(prompt), outcome).inc()
