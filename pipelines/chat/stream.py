"""`ChatStream`: a router stream whose first event has already arrived, and its owner.

Why start it before handing it out: `Router.stream` raises before its first event when no
model produced a first token (no model, budget, every provider failing). Waiting for that
event here lets the door answer such failures as a plain HTTP error, with its status, before
a streaming response has begun; and the gateway can try its next router instead. Why a class
and not a generator: like `pipelines.answer.AnswerStream`, closing it must close the router
stream at once (which books the attempt and closes the provider call), whether the events
were read or not, and an unstarted generator wrapping it would not.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from types import TracebackType

from pipelines.llm import RouterEvent


class ChatStream(AsyncIterator[RouterEvent]):
    """Iterate for the router's events (the first one included); close when done.

    Single consumer; closing twice, or after the last event, is harmless."""

    def __init__(self, first: RouterEvent, rest: AsyncGenerator[RouterEvent, None]) -> None:
        self._first: RouterEvent | None = first
        self._rest = rest

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> RouterEvent:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return await self._rest.__anext__()

    async def aclose(self) -> None:
        """Close the router stream (booking the attempt as cancelled if it was cut short)."""
        self._first = None
        await self._rest.aclose()

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


async def start_stream(events: AsyncGenerator[RouterEvent, None]) -> ChatStream:
    """Wait for `events`' first event; raises what the router raises before it (and closes
    `events` then)."""
    try:
        first = await events.__anext__()
    except BaseException:
        await events.aclose()
        raise
    return ChatStream(first, events)
