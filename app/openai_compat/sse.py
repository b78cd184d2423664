"""SSE framing of OpenAI's streams: chunks as `data:` lines, then `data: [DONE]`.

OpenAI streams have no event names: every chunk is one `data:` line of JSON, and the stream
ends with `data: [DONE]`. Here it always does: a failure of upstream after the response began
(a broken answer is already an error chunk by then; anything else raised becomes one here,
in OpenAI's error shape, which the SDKs raise as an `APIError`) is followed by `[DONE]` too.
A client that goes away cancels the stream; upstream is closed in any case (shielded,
bounded in time), which stops the provider call and books it, and `OpenAIEventSource`
closes it again when the response ends however it ends, as `app.sse.AnswerEventSource` does
for `/v1/ask`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from app.openai_compat.errors import openai_error
from app.sse import JsonEvent
from core import LecternError

log = logging.getLogger("lectern.openai")
DONE = "[DONE]"
SEP = "\n"
CLOSE_TIMEOUT_S = 10.0


class Closable(Protocol):
    """What a stream's owner is: an answer stream or a started router stream."""

    async def aclose(self) -> None: ...


def error_chunk(exc: BaseException) -> dict[str, Any]:
    """The error object a stream ends with when upstream raised `exc`."""
    if isinstance(exc, LecternError):
        return openai_error(exc.http_status, exc.message, code=exc.code)
    return openai_error(500, f"the reply failed: {type(exc).__name__}", code="internal_error")


async def openai_sse(chunks: AsyncIterator[dict[str, Any]], owner: Closable
                     ) -> AsyncGenerator[ServerSentEvent, None]:
    """Frame `chunks` as OpenAI's SSE (see the module docstring); closes `owner` at the end."""
    try:
        try:
            async for chunk in chunks:
                yield JsonEvent(chunk, sep=SEP)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("OpenAI-compatible stream failed")
            yield JsonEvent(error_chunk(exc), sep=SEP)
        yield ServerSentEvent(DONE, sep=SEP)
    finally:
        await close(owner)


async def close(owner: Closable) -> None:
    """Close `owner`, even inside a cancelled scope, within `CLOSE_TIMEOUT_S`."""
    with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
        try:
            await owner.aclose()
        except Exception:
            log.exception("closing an OpenAI-compatible stream failed")


class OpenAIEventSource(EventSourceResponse):
    """The streaming response of a chat completion, and the owner of its upstream."""

    def __init__(self, chunks: AsyncIterator[dict[str, Any]], owner: Closable, *,
                 ping: float) -> None:
        super().__init__(openai_sse(chunks, owner), ping=ping, sep=SEP)
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await close(self.owner)
