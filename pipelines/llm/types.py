"""Provider-neutral request, reply and streaming types for the LLM layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
TaskType = Literal["answer", "cleanup", "extract", "classify", "condense"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class SourcePassage:
    """A numbered retrieved passage, passed alongside the prompt.

    Chat models read the passages from the rendered prompt; the extractive provider, which
    cannot read prompts, works from these directly.
    """

    n: int
    text: str


@dataclass(frozen=True)
class ChatRequest:
    """One call to a chat model. `json_schema` asks for structured output matching it."""

    messages: tuple[Message, ...]
    model: str
    max_tokens: int | None = None
    temperature: float = 0.0
    json_schema: dict[str, Any] | None = None
    schema_name: str = "output"
    passages: tuple[SourcePassage, ...] = ()
    timeout_s: float | None = None


@dataclass(frozen=True)
class TokenUsage:
    """Tokens one call (or a whole routed request) consumed, as billed by the provider."""

    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class TextDelta:
    """A piece of streamed answer text."""

    text: str


@dataclass(frozen=True)
class StreamEnd:
    """The last item of every successful stream: token usage and why it stopped."""

    usage: TokenUsage
    finish_reason: str | None = None


StreamItem = TextDelta | StreamEnd


@dataclass(frozen=True)
class Completion:
    """A whole (non-streamed) reply. `structured`: the structured-output mode that served a
    schema request, when the adapter had to choose one other than the planned (see
    `providers.structured_modes`); None leaves the candidate's mode as it was."""

    text: str
    usage: TokenUsage
    finish_reason: str | None = None
    structured: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; the router and extraction read this to pick a mode."""

    streaming: bool = True
    structured: Literal["json_schema", "json_object", "tools", "none"] = "none"
    extractive: bool = False
    local: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
