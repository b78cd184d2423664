"""What a caller asks the router for: one `RouteRequest`, for `Router.complete` and `stream`.

Why one dataclass: both calls take the same dozen parameters (task, tenant, messages, prompt,
passages, output allowance, temperature, output schema, request id, cache query); keeping them
in one type means one signature to read and change, and every attempt builds its provider
`ChatRequest` from it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

from pipelines.llm.candidates import Candidate, MessagesArg
from pipelines.llm.prompts import Prompt
from pipelines.llm.types import ChatRequest, Message, SourcePassage, ToolUse


@dataclass(frozen=True)
class CacheQuery:
    """Ask the router to consult and fill the answer cache (answers only). `semantic=True`
    lets the semantic cache serve it too: only for a real question over retrieved `chunks`
    (the gateway's chat calls key the exact cache by a hash of the conversation instead)."""

    question: str
    chunks: Sequence[tuple[str, str]]  # (chunk id, content hash)
    ttl_s: float | None = None
    semantic: bool = False


@dataclass(frozen=True)
class RouteRequest:
    """One routed LLM call of `task` for `tenant`.

    `messages` are the call's messages, or a builder that fits them to each candidate model (to
    its context window, say). `prompt` is the prompt used, recorded by its ref ("answer@v2") on
    the ledger rows and cache keys. `passages` go along for the extractive provider, which
    cannot read prompts. `max_tokens` caps the output (default: the task's policy). With
    `json_schema`, only models with structured output are candidates. `request_id` ties the
    ledger rows of all attempts together (a fresh one when None); `cache` asks for the answer
    cache. `json_object` asks for any JSON object (no schema): like a schema, only models
    with structured output are candidates. `tools` (offered to the model) and tool messages
    among `messages` need a provider with `Capabilities.tools`, `stop` one with
    `Capabilities.stop`; the others are not candidates.
    """

    task: str
    tenant: str
    messages: MessagesArg
    _: KW_ONLY
    prompt: str | Prompt
    passages: Sequence[SourcePassage] = ()
    max_tokens: int | None = None
    temperature: float = 0.0
    json_schema: dict[str, Any] | None = None
    schema_name: str = "output"
    request_id: str | None = None
    cache: CacheQuery | None = None
    json_object: bool = False
    tools: ToolUse | None = None
    stop: tuple[str, ...] = ()

    @property
    def prompt_ref(self) -> str:
        """The prompt's versioned ref, as the ledger and the cache record it."""
        return self.prompt.ref if isinstance(self.prompt, Prompt) else self.prompt

    @property
    def structured(self) -> bool:
        """Whether the call asks for structured output (only such models are candidates)."""
        return self.json_schema is not None or self.json_object

    @property
    def uses_tools(self) -> bool:
        """Whether only tool-calling models are candidates: tools are offered, or a message
        is a tool call or a tool's result (fixed message lists only; a builder's messages are
        the router's own prompts)."""
        if self.tools is not None:
            return True
        return not callable(self.messages) and any(m.uses_tools for m in self.messages)

    def chat_request(self, cand: Candidate, messages: tuple[Message, ...]) -> ChatRequest:
        """The provider call of one attempt: `messages` to `cand`'s model, within its allowance."""
        return ChatRequest(messages, cand.model.model_name, max_tokens=cand.max_tokens,
                           temperature=self.temperature, json_schema=self.json_schema,
                           schema_name=self.schema_name, passages=tuple(self.passages),
                           json_object=self.json_object, tools=self.tools, stop=self.stop)
