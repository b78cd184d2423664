"""`RouterTextCleaner`: the ingest `TextCleaner` seam, served by the LLM router's cleanup task.

Ingest calls `clean(text)` synchronously from its worker threads, which have no event loop.
Every call is therefore run on one private event loop in a daemon thread (started on first
use): the router is async, and the SDK clients inside its providers are bound to the loop
they first ran on, so this cleaner's router must have providers of its own
(`own_providers` builds them; in-process llama.cpp models, which are loop-agnostic and costly
to load, are shared). Each call renders `cleanup@vN` and books one ledger row per attempt
under the tenant `INGEST_TENANT` (the seam carries no tenant). When no model other than the
extractive one can serve `cleanup`, `clean` raises `CleanupUnavailable`, which ingest records
as a skipped cleanup; ingest's own guard still checks every rewrite it gets back.

When models are configured but none is healthy (breakers open, every candidate failing), a
call waits for one with backoff (`provider_wait`), but for at most `wait.max_wait_s` per
outage, shared by all pages: once that much of one outage has passed, each page skips at
once (unless a breaker's cool-down lets a probe through), so ingestion is stalled for a
bounded time; the page's cleanup reason in the processing log says it waited and kept the
OCR text. A success ends the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from core import Backoff
from pipelines.errors import PipelineError
from pipelines.ingestion.provider_wait import ProviderWait, breakers_open, is_outage
from pipelines.llm import (
    ChatProvider,
    LLMConfig,
    LLMError,
    Router,
    RouteRequest,
    build_providers,
    count_tokens,
)

TASK = "cleanup"
PROMPT = "cleanup"  # latest version; the exact `cleanup@vN` goes into the ledger
INGEST_TENANT = "_ingest"
LOOP_AGNOSTIC_KINDS = frozenset({"local", "extractive", "fake"})
T = TypeVar("T")


class CleanupUnavailable(PipelineError):
    """No configured model can clean OCR text (the extractive answerer cannot)."""

    code = "cleanup_unavailable"
    http_status = 503


def own_providers(config: LLMConfig, shared: Mapping[str, ChatProvider],
                  environ: Mapping[str, str]) -> dict[str, ChatProvider]:
    """Providers for a router that runs on another event loop: built anew, except the kinds
    that hold no loop-bound client (`LOOP_AGNOSTIC_KINDS`), which are taken from `shared`."""
    built, _ = build_providers(config, environ)
    return {name: shared[name] if config.providers[name].kind in LOOP_AGNOSTIC_KINDS
            and name in shared else provider for name, provider in built.items()}


class RouterTextCleaner:
    """A thread-safe `TextCleaner` over `router`'s `cleanup` task (see the module doc).

    `timeout_s` bounds one call end to end (all fallbacks included); on expiry the call is
    cancelled and `TimeoutError` raised, so the page keeps its normalised text.
    """

    def __init__(self, router: Router, *, tenant: str = INGEST_TENANT,
                 timeout_s: float = 300.0, wait: ProviderWait | None = None) -> None:
        self.router = router
        self.tenant = tenant
        self.timeout_s = timeout_s
        self.wait = wait or ProviderWait(max_wait_s=0.0)
        self.prompt = router.prompts.get(PROMPT)
        self._outage_since: float | None = None
        self._backoff: Backoff | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def available(self) -> bool:
        """Whether some model would serve `cleanup` now (degraded tiers only if allowed)."""
        degrade = self.router.config.policy(TASK).degrade
        return any(degrade or not c.degraded for c in self.router.candidates(TASK))

    def clean(self, text: str) -> str:
        """The router's cleanup of `text`; raises CleanupUnavailable, TimeoutError or the
        router's LLM errors (ingest treats any of them as "skip"). Waits out an outage for a
        bounded time (see the module docstring)."""
        while True:
            if self.available():
                try:
                    reply = self._complete(text)
                except LLMError as exc:
                    if not is_outage(exc):
                        raise
                    problem = f"{exc.code}: {exc.message}"
                else:
                    with self._lock:
                        self._outage_since = self._backoff = None
                    return reply
            elif breakers_open(self.router, TASK):
                problem = "no_provider_available: circuit breakers open"
            else:
                raise CleanupUnavailable("no LLM is configured for OCR cleanup (the extractive "
                                         "answerer cannot rewrite text)")
            self._pause(problem)

    def _complete(self, text: str) -> str:
        messages = self.prompt.render(text=text)
        max_tokens = int(count_tokens(text) * 1.5) + 64  # a repair is about as long as its input
        result = self._run(self.router.complete(RouteRequest(
            TASK, self.tenant, messages, prompt=self.prompt, max_tokens=max_tokens)))
        return result.text

    def _pause(self, problem: str) -> None:
        """Sleep the outage's next backoff, or raise CleanupUnavailable once the outage has
        lasted `wait.max_wait_s`."""
        with self._lock:
            now = time.monotonic()
            if self._outage_since is None or self._backoff is None:
                self._outage_since, self._backoff = now, self.wait.backoff()
            waited = now - self._outage_since
            left = self.wait.max_wait_s - waited
            delay = min(self._backoff.next(), left)
        if left <= 0:
            raise CleanupUnavailable(
                f"no LLM provider could clean OCR text ({problem[:200]}); waited "
                f"{waited:.0f} s of at most {self.wait.max_wait_s:g} s, kept the OCR text",
                waited_s=round(waited, 1))
        time.sleep(delay)

    def close(self) -> None:
        """Close the providers' clients on the private loop, then stop it. Idempotent."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):  # best effort; the loop stops regardless
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        if not thread.is_alive():
            loop.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())
        try:
            return future.result(self.timeout_s)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"OCR cleanup took longer than {self.timeout_s:g}s") from None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="lectern-cleanup-llm",
                                          daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _shutdown(self) -> None:
        """On the private loop: finish cancelled calls (they book their ledger rows), then
        close the providers' clients."""
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others, timeout=10)
        for provider in self.router.providers.values():
            aclose = getattr(provider, "aclose", None)
            if aclose is not None:
                await aclose()
        await asyncio.get_running_loop().shutdown_asyncgens()
