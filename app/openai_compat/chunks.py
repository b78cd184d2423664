"""OpenAI's `chat.completion` and `chat.completion.chunk` objects, from lectern's answers.

Two sources: the router's events of a gateway model (`gateway_chunks`, `gateway_completion`)
and the answer events of a RAG model (`rag_chunks`, `rag_completion`). A stream is: a first
chunk with the assistant role, content chunks, a last choice chunk with `finish_reason`,
then, when the client set `stream_options.include_usage`, a chunk with no choices and the
usage (every earlier chunk then has `"usage": null`, as OpenAI sends them). A RAG answer's
sources travel in the extension field `sources` (the objects `/v1/ask` sends): on the chunk
with `finish_reason`, and on the message of a whole completion. OpenAI's clients keep unknown
fields, so they can read them or ignore them. A failover to another model mid-stream is
invisible: the text just continues. A stream that breaks after text was sent ends with an
error object (`{"error": ...}`, OpenAI's shape) instead of the last chunk. A gateway model's
tool calls are `tool_calls` on the message of a whole completion, and in a stream one
`delta.tool_calls` chunk per piece the provider sent, in its order (the call's `index`, its
`id`, `type` and function `name` with its first piece, then `arguments` pieces), ending with
`finish_reason: "tool_calls"`, as OpenAI streams them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from app.openai_compat.errors import openai_error
from pipelines.answer import AnswerError, AnswerEvent, Done, Sources, Token, Usage
from pipelines.llm import (
    Finished,
    RoutedCompletion,
    RouterEvent,
    Started,
    StreamFailed,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolCallDelta,
)

Chunk = dict[str, Any]


def finish_reason(reason: str | None) -> str:
    """OpenAI's finish reason: `length` when the output cap cut the reply, `tool_calls` when
    the model called tools, else `stop` (lectern's `insufficient_evidence` included)."""
    return reason if reason in ("length", "tool_calls") else "stop"


def tool_calls_of(calls: tuple[ToolCall, ...]) -> list[dict[str, Any]]:
    """A reply's tool calls as OpenAI's message has them."""
    return [{"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}} for c in calls]


def tool_call_delta(piece: ToolCallDelta) -> dict[str, Any]:
    """One streamed piece of a tool call as OpenAI's `delta.tool_calls` entry."""
    entry: dict[str, Any] = {"index": piece.index}
    if piece.id is not None:
        entry |= {"id": piece.id, "type": "function"}
    function: dict[str, str] = {"arguments": piece.arguments}
    if piece.name is not None:
        function = {"name": piece.name, **function}
    return {**entry, "function": function}


def usage_of(input_tokens: int, output_tokens: int) -> dict[str, int]:
    """OpenAI's usage object."""
    return {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens}


@dataclass
class Chunks:
    """The fields every chunk of one completion shares; `model` is the model that serves it
    (a gateway model's configured id, a RAG model's name)."""

    completion_id: str
    model: str
    include_usage: bool
    created: int = 0

    def __post_init__(self) -> None:
        self.created = self.created or int(time.time())

    def chunk(self, delta: dict[str, Any], reason: str | None = None, **extra: Any) -> Chunk:
        """One choice chunk."""
        body: Chunk = {"id": self.completion_id, "object": "chat.completion.chunk",
                       "created": self.created, "model": self.model,
                       "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                    "finish_reason": reason}], **extra}
        if self.include_usage:
            body["usage"] = None
        return body

    def usage(self, usage: dict[str, int]) -> Chunk:
        """The last chunk of a stream with `include_usage`: no choices, the usage."""
        return {"id": self.completion_id, "object": "chat.completion.chunk",
                "created": self.created, "model": self.model, "choices": [], "usage": usage}

    def ending(self, reason: str | None, usage: dict[str, int], **extra: Any) -> list[Chunk]:
        """The last choice chunk, and the usage chunk when asked for."""
        last = self.chunk({}, finish_reason(reason), **extra)
        return [last, self.usage(usage)] if self.include_usage else [last]

    def completion(self, text: str, reason: str | None, usage: dict[str, int],
                   **message_extra: Any) -> Chunk:
        """A whole `chat.completion`."""
        message = {"role": "assistant", "content": text, "refusal": None, **message_extra}
        return {"id": self.completion_id, "object": "chat.completion", "created": self.created,
                "model": self.model, "choices": [{"index": 0, "message": message,
                                                  "logprobs": None,
                                                  "finish_reason": finish_reason(reason)}],
                "usage": usage}


def _called(reason: str | None) -> str | None:
    """The finish reason of a reply that made tool calls: `tool_calls`, as OpenAI says, also
    from servers that say `stop` (a cut-off `length` stays)."""
    return reason if reason == "length" else "tool_calls"


def _usage(usage: TokenUsage) -> dict[str, int]:
    return usage_of(usage.input_tokens, usage.output_tokens)


async def gateway_chunks(events: AsyncIterator[RouterEvent], chunks: Chunks
                         ) -> AsyncGenerator[Chunk, None]:
    """The router's stream as chunks (see the module docstring)."""
    called = False
    async for event in events:
        if isinstance(event, Started):
            chunks.model = event.served.model
            yield chunks.chunk({"role": "assistant", "content": ""})
        elif isinstance(event, TextDelta):
            if event.text:
                yield chunks.chunk({"content": event.text})
        elif isinstance(event, ToolCallDelta):
            called = True
            yield chunks.chunk({"tool_calls": [tool_call_delta(event)]})
        elif isinstance(event, Finished):
            reason = _called(event.finish_reason) if called else event.finish_reason
            for chunk in chunks.ending(reason, _usage(event.usage)):
                yield chunk
            return
        elif isinstance(event, StreamFailed):
            yield openai_error(event.error.http_status, event.error.message,
                               code=event.error.code)
            return


def gateway_completion(reply: RoutedCompletion, chunks: Chunks) -> Chunk:
    """A gateway model's whole reply as a `chat.completion`."""
    chunks.model = reply.served.model
    if not reply.tool_calls:
        return chunks.completion(reply.text, reply.finish_reason, _usage(reply.usage))
    body = chunks.completion(reply.text, _called(reply.finish_reason), _usage(reply.usage),
                             tool_calls=tool_calls_of(reply.tool_calls))
    message = body["choices"][0]["message"]
    message["content"] = reply.text or None  # as OpenAI: null beside tool calls
    return body


async def rag_chunks(events: AsyncIterator[AnswerEvent], chunks: Chunks
                     ) -> AsyncGenerator[Chunk, None]:
    """An answer's events as chunks, its sources on the chunk with `finish_reason`."""
    sources: list[dict[str, Any]] = []
    usage = usage_of(0, 0)
    yield chunks.chunk({"role": "assistant", "content": ""})
    async for event in events:
        if isinstance(event, Sources):
            sources = event.data()
        elif isinstance(event, Token):
            if event.text:
                yield chunks.chunk({"content": event.text})
        elif isinstance(event, Usage):
            usage = usage_of(event.input_tokens, event.output_tokens)
        elif isinstance(event, Done):
            for chunk in chunks.ending(event.finish_reason, usage, sources=sources):
                yield chunk
            return
        elif isinstance(event, AnswerError):
            yield openai_error(event.http_status, event.message, code=event.code)
            return


def rag_completion(result: dict[str, Any], chunks: Chunks) -> Chunk:
    """A collected answer (`pipelines.answer.collect`) as a `chat.completion` whose message
    carries `sources`."""
    usage = result["usage"] or {}
    return chunks.completion(result["answer"], result["finish_reason"],
                             usage_of(usage.get("input_tokens", 0),
                                      usage.get("output_tokens", 0)),
                             sources=result["sources"])
