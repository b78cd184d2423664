"""Waiting for a condition instead of sleeping for a guess: poll it, fail after a timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], *, timeout: float = 5.0,
                what: str = "the condition") -> None:
    """Return as soon as `condition()` holds (checked every millisecond on the event loop);
    fail the test, naming `what`, if it does not within `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.001)
