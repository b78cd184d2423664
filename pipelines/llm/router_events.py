"""What the router hands back: who served, stream events, whole completions.

The answer pipeline maps stream events onto SSE: `Started` → `meta` (then `sources`),
`TextDelta` → `token` (a `ToolCallDelta`, a piece of a tool call, comes only to a request
that offered tools), `Failover` → a marker that a fallback model continues the answer,
`Finished` → `usage` + `done`, `StreamFailed` → `error` (the partial text was already sent).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.llm.errors import LLMError, ProviderError
from pipelines.llm.ledger import Outcome
from pipelines.llm.types import TextDelta, TokenUsage, ToolCall, ToolCallDelta


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
    cache: str | None = None  # "exact" or "semantic" when `cached`
    cached_question: str | None = None  # a semantic hit: the question the answer was for


@dataclass(frozen=True)
class Attempt:
    """One try of a request on one model, as its ledger row records it."""

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
    usage: TokenUsage
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


@dataclass(frozen=True)
class RoutedCompletion:
    """A whole reply (`Router.complete`): who served it, and totals over all attempts;
    `tool_calls` are the calls the model made of the request's tools."""

    text: str
    usage: TokenUsage
    served: Served
    cost_usd: float
    latency_ms: int
    finish_reason: str | None
    attempts: tuple[Attempt, ...]
    tool_calls: tuple[ToolCall, ...] = ()


RouterEvent = Started | TextDelta | ToolCallDelta | Failover | Finished | StreamFailed
