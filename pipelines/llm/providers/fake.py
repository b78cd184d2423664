"""A fake chat provider for tests: replays queued replies and records what it was asked.

Why a fake and not mocks: tests of the router, answering and extraction exercise the real
`ChatProvider` contract (deltas, one `StreamEnd`, `ProviderError` before or after the first
token) without a network, and assert on the requests the code under test really built.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from pipelines.llm.errors import ProviderError
from pipelines.llm.types import (
    Capabilities,
    ChatRequest,
    Completion,
    StreamEnd,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolCallDelta,
    ToolStreamItem,
)


@dataclass(frozen=True)
class FakeStream:
    """A scripted reply: `text` streamed in word pieces; with `fail_after=k`, the stream raises
    `error` after k pieces (default: a retryable `ProviderError` whose `before_first_token`
    is k == 0). `delay_s` sleeps before each piece, for timeout and cancellation tests.
    `tool_calls` are made after the text (finish reason "tool_calls"); streamed, each is a
    `ToolCallDelta` with its id and name, then its arguments in word pieces. Only a fake whose
    `Capabilities.tools` is set is offered tools by the router."""

    text: str
    fail_after: int | None = None
    error: Exception | None = None
    usage: TokenUsage | None = None
    finish_reason: str = "stop"
    delay_s: float = 0.0
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def finish(self) -> str:
        """The finish reason: "tool_calls" when it makes calls (unless scripted otherwise)."""
        return "tool_calls" if self.tool_calls and self.finish_reason == "stop" else (
            self.finish_reason)


Reply = str | Exception | FakeStream


def word_pieces(text: str) -> list[str]:
    """`text` cut before each word, keeping whitespace, so the pieces join back to `text`."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)):]
    return [*pieces, tail] if tail else pieces


class FakeProvider:
    """A `ChatProvider` that answers from a queue.

    Each call to `stream` or `complete` takes the next reply: a `str` is streamed in word
    pieces, an `Exception` is raised before the first token, a `FakeStream` is played as
    scripted. With the queue empty, `default_reply` is used, or a non-retryable
    `ProviderError` says the fake ran out. Every request is appended to `calls`;
    `open_streams` counts the streams started and not yet ended or closed (a test of who
    closes a half-read stream looks at it).
    `timeout_s` is accepted for uniformity with the other kinds and ignored.
    """

    def __init__(
        self,
        name: str = "fake",
        replies: Iterable[Reply] = (),
        *,
        capabilities: Capabilities | None = None,
        usage: TokenUsage | None = None,
        default_reply: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.name = name
        self.calls: list[ChatRequest] = []
        self.open_streams = 0
        self._replies: deque[Reply] = deque(replies)
        self._capabilities = capabilities or Capabilities(structured="json_schema")
        self._usage = usage
        self._default = default_reply

    def queue(self, *replies: Reply) -> None:
        """Append replies to the queue."""
        self._replies.extend(replies)

    @property
    def pending(self) -> int:
        """Replies not yet consumed."""
        return len(self._replies)

    def capabilities(self, model: str) -> Capabilities:
        """The capabilities given at construction, for every model."""
        return self._capabilities

    async def complete(self, request: ChatRequest) -> Completion:
        """The next reply as a whole; a `FakeStream` with a failure raises its error."""
        script = self._next(request)
        await asyncio.sleep(script.delay_s)
        if script.fail_after is not None:
            raise self._failure(script, request, emitted=0)
        return Completion(script.text, self._usage_for(script, request), script.finish,
                          tool_calls=script.tool_calls)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ToolStreamItem]:
        """The next reply in word pieces, then one `StreamEnd` (or the scripted failure)."""
        script = self._next(request)
        pieces = word_pieces(script.text)
        self.open_streams += 1
        try:
            for index, piece in enumerate(pieces):
                if script.fail_after is not None and index >= script.fail_after:
                    raise self._failure(script, request, emitted=index)
                await asyncio.sleep(script.delay_s)
                yield TextDelta(piece)
            for index, call in enumerate(script.tool_calls):
                yield ToolCallDelta(index, call.id, call.name)
                for piece in word_pieces(call.arguments):
                    yield ToolCallDelta(index, arguments=piece)
            if script.fail_after is not None:
                raise self._failure(script, request, emitted=len(pieces))
            yield StreamEnd(self._usage_for(script, request), script.finish)
        finally:
            self.open_streams -= 1

    def _next(self, request: ChatRequest) -> FakeStream:
        self.calls.append(request)
        if self._replies:
            reply = self._replies.popleft()
        elif self._default is not None:
            reply = self._default
        else:
            raise ProviderError(f"FakeProvider {self.name!r} has no reply queued",
                                provider=self.name, model=request.model, retryable=False)
        if isinstance(reply, Exception):
            raise reply
        return reply if isinstance(reply, FakeStream) else FakeStream(reply)

    def _failure(self, script: FakeStream, request: ChatRequest, *, emitted: int) -> Exception:
        if script.error is not None:
            return script.error
        return ProviderError(
            f"FakeProvider {self.name!r}: scripted failure after {emitted} pieces",
            provider=self.name, model=request.model, status=None, retryable=True,
            before_first_token=emitted == 0)

    def _usage_for(self, script: FakeStream, request: ChatRequest) -> TokenUsage:
        """Scripted usage, else the provider's, else word counts (deterministic for tests)."""
        if script.usage is not None:
            return script.usage
        if self._usage is not None:
            return self._usage
        words_in = sum(len(m.content.split()) for m in request.messages)
        return TokenUsage(input_tokens=words_in, output_tokens=len(word_pieces(script.text)))
