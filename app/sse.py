"""SSE framing of an answer: answer events in, sse-starlette `ServerSentEvent`s out.

A pure async generator, testable without HTTP. Each answer event becomes one SSE event named
after it (`meta`, `sources`, `token`, `handover`, `usage`, `done`, `error`) with the event's
JSON as data. The stream always ends with `done` or `error`:

- an exception from upstream becomes `error` (`internal_error`, or the domain error's code);
- cancellation while waiting for upstream (the client went away) closes upstream first, then
  offers an `error` with code `cancelled`, then re-raises the cancellation;
- upstream ending without `done` becomes `error` with code `stream_incomplete`.

Whatever happens, upstream is closed (shielded from the cancellation, bounded in time), which
is what stops the provider call when a client disconnects. That `finally` runs only if the
generator was started; `AnswerEventSource`, the response the ask route returns, closes the
answer again when the response ends however it ends (the client gone before the first byte,
the body never iterated), so the answer's owner never depends on the garbage collector.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import anyio
import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from core import LecternError
from pipelines.answer import TERMINAL_EVENTS, AnswerEvent

log = logging.getLogger("lectern.sse")
CLOSE_TIMEOUT_S = 10.0
"""How long closing upstream (booking the cancelled call, closing the provider socket) may take."""


class JsonEvent(ServerSentEvent):
    """An SSE event whose data is one line of compact JSON, encoded once by orjson.

    Every token of a stream is one event, so this is on the per-token path: sse-starlette's
    `JSONServerSentEvent` encodes with the standard `json` module and frames through a
    `StringIO` and a line-splitting regex; JSON has no raw line breaks, so one `data:` line
    is the whole frame (`python -m bench.gateway_overhead`: the per-token figures).
    """

    def __init__(self, data: Any, *, event: str | None = None, sep: str | None = None) -> None:
        self._json = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
        super().__init__(self._json.decode(), event=event, sep=sep)

    def encode(self) -> bytes:
        """The event's bytes on the wire: `event:` (when named) and one `data:` line."""
        sep = self._sep.encode()
        head = b"" if self.event is None else b"event: " + self.event.encode() + sep
        return head + b"data: " + self._json + sep + sep


def sse_event(name: str, data: Any) -> ServerSentEvent:
    """One SSE event with compact JSON data."""
    return JsonEvent(data, event=name)


def error_event(code: str, message: str, details: dict[str, Any] | None = None) -> ServerSentEvent:
    """An `error` event with the same shape as the answer's own errors."""
    return sse_event("error", {"code": code, "message": message, "details": details or {},
                               "partial_text": "", "cost_usd": None})


async def answer_sse(events: AsyncIterator[AnswerEvent]) -> AsyncGenerator[ServerSentEvent, None]:
    """Frame `events` as SSE; always ends with `done` or `error` (see the module doc)."""
    try:
        try:
            async for event in events:
                yield sse_event(event.name, event.data())
                if isinstance(event, TERMINAL_EVENTS):
                    return
        except asyncio.CancelledError:
            await _close(events)
            yield error_event("cancelled", "the request was cancelled before the answer ended")
            raise
        except Exception as exc:
            log.exception("answer stream failed")
            if isinstance(exc, LecternError):
                yield error_event(exc.code, exc.message)
            else:
                yield error_event("internal_error", f"the answer failed: {type(exc).__name__}")
            return
        yield error_event("stream_incomplete", "the answer stream ended without a result")
    finally:
        await _close(events)


async def _close(events: AsyncIterator[AnswerEvent]) -> None:
    """Close upstream if it can be closed, even inside a cancelled scope."""
    aclose = getattr(events, "aclose", None)
    if aclose is None:
        return
    with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
        try:
            await aclose()
        except Exception:
            log.exception("closing the answer stream failed")


class AnswerEventSource(EventSourceResponse):
    """The SSE response of an answer, and its owner: `events` framed by `answer_sse`, and
    closed when the response ends, whether or not the SSE body was ever iterated."""

    def __init__(self, events: AsyncIterator[AnswerEvent], **options: Any) -> None:
        super().__init__(answer_sse(events), **options)
        self.events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await _close(self.events)
