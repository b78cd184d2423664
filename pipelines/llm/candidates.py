"""Which models may serve a call, in the order the router tries them.

Eligible: the provider was built, its breaker is not open, the model may do the task
(`tasks`), the extractive provider only answers, structured output is there when asked for,
tool calling and stop sequences are there when the call needs them (`Capabilities.tools`,
`.stop`: a provider that would drop them would change the reply), and the prompt plus the
output allowance fits the context window. Order: models at or above
the task's `min_tier` cheapest first by estimated cost (prompt tokens × input price + output
allowance × output price; ties by `priority`, then config order), followed by lower tiers,
highest first, marked `degraded`. Token counting is CPU work: call this off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.llm.breaker import BreakerBoard
from pipelines.llm.config_model import EXTRACTIVE_KIND, LLMConfig, ModelConfig
from pipelines.llm.protocol import ChatProvider
from pipelines.llm.tokens import count_messages
from pipelines.llm.types import Message

# Messages for the call, or a builder that fits them to a model (e.g. to its context window).
MessagesArg = Sequence[Message] | Callable[[ModelConfig], Sequence[Message]]


@dataclass(frozen=True)
class Candidate:
    model: ModelConfig
    provider: ChatProvider
    messages: tuple[Message, ...]
    prompt_tokens: int
    max_tokens: int
    estimated_cost_usd: float
    degraded: bool  # below the task's min_tier
    extractive: bool
    structured: str
    streaming: bool


def is_extractive(config: LLMConfig, m: ModelConfig, provider: ChatProvider) -> bool:
    kind = config.providers[m.provider].kind
    return kind == EXTRACTIVE_KIND or provider.capabilities(m.model_name).extractive


def structured_mode(m: ModelConfig, provider: ChatProvider) -> str:
    """The model's configured structured-output mode, else what the provider reports."""
    return m.structured or provider.capabilities(m.model_name).structured


NO_TOOLS = "no tool calling support"
NO_STOP = "no stop sequence support"
"""Skip reasons of a model lacking a capability the call needs (callers match on them)."""


def _unfit(config: LLMConfig, task: str, m: ModelConfig, provider: ChatProvider | None,
           structured: bool, tools: bool, stop: bool) -> str | None:
    if m.tasks is not None and task not in m.tasks:
        return f"configured for {list(m.tasks)} only"
    if provider is None:
        return f"provider {m.provider!r} is not available (not built or not installed)"
    extractive = is_extractive(config, m, provider)
    if extractive and task != "answer":
        return "an extractive provider can only answer"
    mode = structured_mode(m, provider)
    if structured and (extractive or mode == "none"):
        return "no structured output support"
    caps = provider.capabilities(m.model_name)
    if tools and (extractive or not caps.tools):
        return NO_TOOLS
    if tools and structured and mode == "tools":
        return "structured output by a forced tool call cannot go with the call's own tools"
    if stop and (extractive or not caps.stop):
        return NO_STOP
    return None


def _candidate(config: LLMConfig, m: ModelConfig, provider: ChatProvider, messages: MessagesArg,
               max_tokens: int, degraded: bool) -> Candidate:
    msgs = tuple(messages(m) if callable(messages) else messages)
    prompt_tokens = count_messages(msgs, m.model_name) if msgs else 0
    out = min(max_tokens, m.max_output_tokens)
    return Candidate(
        model=m, provider=provider, messages=msgs, prompt_tokens=prompt_tokens, max_tokens=out,
        estimated_cost_usd=m.cost_usd(prompt_tokens, out), degraded=degraded,
        extractive=is_extractive(config, m, provider), structured=structured_mode(m, provider),
        streaming=provider.capabilities(m.model_name).streaming)


def find_candidates(
    config: LLMConfig,
    providers: Mapping[str, ChatProvider],
    breakers: BreakerBoard,
    task: str,
    messages: MessagesArg,
    *,
    max_tokens: int | None = None,
    structured: bool = False,
    skipped: dict[str, str] | None = None,
    tools: bool = False,
    stop: bool = False,
) -> list[Candidate]:
    """Eligible candidates in trying order; reasons for the others go into `skipped`.
    `tools`, `stop`: the call needs tool calling, stop sequences."""
    policy = config.policy(task)
    min_rank = config.tier_rank(policy.min_tier)
    found: list[tuple[tuple[Any, ...], Candidate]] = []
    for order, m in enumerate(config.models):
        provider = providers.get(m.provider)
        reason = _unfit(config, task, m, provider, structured, tools, stop)
        if reason is None and provider is not None:
            rank = config.tier_rank(m.tier)
            cand = _candidate(config, m, provider, messages,
                              max_tokens or policy.max_output_tokens, rank < min_rank)
            if cand.prompt_tokens + cand.max_tokens > m.context_tokens:
                reason = f"prompt of {cand.prompt_tokens} tokens exceeds the context window"
            elif not breakers.get(m.provider).available():
                reason = "circuit breaker open"
            else:
                group = (1, -rank) if cand.degraded else (0, 0)
                found.append(((*group, cand.estimated_cost_usd, m.priority, order), cand))
        if reason is not None and skipped is not None:
            skipped[m.id] = reason
    return [c for _, c in sorted(found, key=lambda kc: kc[0])]
