"""Provider-neutral request, reply and streaming types for the LLM layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
TaskType = Literal["answer", "cleanup", "extract", "classify", "condense"]


@dataclass(frozen=True)
class ToolCall:
    """A function call a model asked for: its id, the function's name and the arguments as
    the JSON text the model wrote (passed on as given, never parsed here)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Message:
    """One message. An assistant message may carry the `tool_calls` it made; a `tool` message
    answers one of them (`tool_call_id`). Only providers with `Capabilities.tools` get these."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @property
    def uses_tools(self) -> bool:
        """Whether only a tool-calling provider can read this message."""
        return self.role == "tool" or bool(self.tool_calls)


@dataclass(frozen=True)
class ToolUse:
    """The tools a call offers, in OpenAI's function-tool shape (`{"type": "function",
    "function": {"name", "description", "parameters"}}`, the lingua franca of tool calling),
    with `tool_choice` and `parallel_tool_calls` as the client sent them (None: not sent)."""

    tools: tuple[dict[str, Any], ...]
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None


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
    """One call to a chat model. `json_schema` asks for structured output matching it;
    `json_object` (without a schema) for any JSON object. `tools` are offered to the model,
    `stop` ends the reply at any of its sequences; only providers whose `Capabilities` say so
    get either (the router's candidate filter)."""

    messages: tuple[Message, ...]
    model: str
    max_tokens: int | None = None
    temperature: float = 0.0
    json_schema: dict[str, Any] | None = None
    schema_name: str = "output"
    passages: tuple[SourcePassage, ...] = ()
    timeout_s: float | None = None
    json_object: bool = False
    tools: ToolUse | None = None
    stop: tuple[str, ...] = ()

    @property
    def structured(self) -> bool:
        """Whether the reply must be JSON (by schema, or any object)."""
        return self.json_schema is not None or self.json_object


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


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a streamed tool call, as OpenAI streams them: `index` says which call of
    the reply it belongs to; `id` and `name` come with its first piece, `arguments` in pieces
    that join to the JSON text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


StreamItem = TextDelta | StreamEnd
"""What a provider without tool calling streams."""
ToolStreamItem = TextDelta | ToolCallDelta | StreamEnd
"""What any provider may stream: a tool-calling one also yields `ToolCallDelta`s (to a
request that offered tools). Two names so that adapters without tools keep their narrower
type."""


@dataclass(frozen=True)
class Completion:
    """A whole (non-streamed) reply. `structured`: the structured-output mode that served a
    schema request, when the adapter had to choose one other than the planned (see
    `providers.structured_modes`); None leaves the candidate's mode as it was. `tool_calls`:
    the calls the model made of the request's `tools` (finish reason "tool_calls")."""

    text: str
    usage: TokenUsage
    finish_reason: str | None = None
    structured: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; the router and extraction read this to pick a mode. `tools`:
    it passes tool definitions and tool messages on and returns tool calls; `stop`: it passes
    stop sequences on. A request needing either goes only to providers that have it."""

    streaming: bool = True
    structured: Literal["json_schema", "json_object", "tools", "none"] = "none"
    tools: bool = False
    stop: bool = False
    extractive: bool = False
    local: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
