"""Queued LLM work waits out a provider outage instead of failing: `ProviderWait`.

Why: an interactive answer must answer now, so it degrades or answers 503; work that sits in
a queue (a batch extraction job, OCR cleanup during ingestion) can instead wait for a
provider to come back. An outage is `NoProviderAvailable` (every breaker open, nothing
eligible) or a retryable `ProviderError` (every candidate failed). The waiting call pauses
with `core.Backoff` (capped), and tries again only once the router has a candidate again: an
open breaker reads as available once its cool-down has passed, and the retried call is then
its half-open probe; a probe that succeeds closes the breaker and the work resumes. It gives
up with `ProviderWaitExceeded` once `max_wait_s` seconds of one outage have passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from core import Backoff
from pipelines.errors import PipelineError
from pipelines.llm import LLMError, NoProviderAvailable, ProviderError, Router

T = TypeVar("T")
WAITING_STAGE = "waiting for a provider"


class ProviderWaitExceeded(PipelineError):
    """No provider came back within the wait allowed for queued work."""

    code = "provider_wait_exceeded"
    http_status = 503


@dataclass(frozen=True)
class ProviderWait:
    """How long queued work waits for a provider in one outage, and how it paces retries."""

    max_wait_s: float = 3600.0
    initial_s: float = 1.0
    cap_s: float = 30.0

    def backoff(self) -> Backoff:
        """A fresh backoff for one outage."""
        return Backoff(self.initial_s, max(self.cap_s, self.initial_s))


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` means "no provider can serve now" (worth waiting for)."""
    return isinstance(exc, NoProviderAvailable) or (
        isinstance(exc, ProviderError) and exc.retryable)


def can_serve(router: Router, task: str, *, structured: bool = False) -> bool:
    """Whether some model could take `task` now (a cooled-down breaker counts)."""
    return bool(router.candidates(task, (), structured=structured))


def breakers_open(router: Router, task: str, *, structured: bool = False) -> bool:
    """Whether the only reason nothing can serve `task` is open circuit breakers."""
    skipped: dict[str, str] = {}
    found = router.candidates(task, (), structured=structured, skipped=skipped)
    return not found and any("breaker" in reason for reason in skipped.values())


OnWait = Callable[[str, float, float], Awaitable[None]]
"""Told before each pause: what is wrong, seconds waited so far, the pause; may raise to stop."""


async def call_with_wait(call: Callable[[], Awaitable[T]], *, router: Router, task: str,
                         wait: ProviderWait, on_wait: OnWait, structured: bool = False,
                         sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                         clock: Callable[[], float] = time.monotonic) -> T:
    """`await call()`, waiting out provider outages (see the module docstring); `sleep`
    pauses (the caller's, to stay responsive to a stop)."""
    backoff: Backoff | None = None
    started = 0.0
    while True:
        try:
            return await call()
        except LLMError as exc:
            if not is_outage(exc):
                raise
            if backoff is None:
                backoff, started = wait.backoff(), clock()
            problem = f"{exc.code}: {exc.message}"[:300]
        while True:
            waited = clock() - started
            if waited >= wait.max_wait_s:
                raise ProviderWaitExceeded(
                    f"no LLM provider came back within {wait.max_wait_s:g} s", task=task,
                    waited_s=round(waited, 1), last_error=problem)
            delay = min(backoff.next(), wait.max_wait_s - waited)
            await on_wait(problem, waited, delay)
            await sleep(delay)
            if can_serve(router, task, structured=structured):
                break
