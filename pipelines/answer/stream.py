"""`AnswerStream`: the events of one answer, and the owner of the model call behind them.

Why not a plain async generator: by the time `answer()` returns, it has already started the
router stream (it waited for the first token, so that errors before any text can still be
plain HTTP errors). A generator that has not started yet does nothing when closed: its body,
and so any `finally` or `async with` in it, never ran. Closing such a generator left the
provider call open (its HTTP connection, its budget reservation, its ledger row pending) until
the garbage collector finalised the router stream, at a time nobody chose. `AnswerStream`
holds the router stream itself, so `aclose()` (or leaving `async with`) closes it at once,
whether the events were read to the end, in part, or not at all. Closing the router stream
stops the provider call and books the attempt (outcome `cancelled` when it was cut short).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from types import TracebackType
from typing import Protocol

from pipelines.answer.events import AnswerEvent


class Closable(Protocol):
    """What an `AnswerStream` may own: a router stream, or another answer stream it wraps."""

    async def aclose(self) -> None: ...


class AnswerStream(AsyncIterator[AnswerEvent]):
    """Iterate it for the answer's events; close it (`aclose()`, `async with`) when done.

    `events` are the answer events; `owns` is the already-started stream they are read
    from (None when no model was called), closed after `events` by `aclose()`. Closing twice,
    or after the events ended, is harmless. Single consumer: one task reads and closes it.
    """

    def __init__(self, events: AsyncGenerator[AnswerEvent, None], *,
                 owns: Closable | None = None) -> None:
        self._events = events
        self._owns = owns

    def __aiter__(self) -> AnswerStream:
        return self

    async def __anext__(self) -> AnswerEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Close the events, then the stream they come from (even if they never started)."""
        try:
            await self._events.aclose()
        finally:
            if self._owns is not None:
                await self._owns.aclose()

    async def __aenter__(self) -> AnswerStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
