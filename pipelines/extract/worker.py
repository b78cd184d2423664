"""The extraction worker: claims jobs of kind "extract" and runs them document by document.

Why a worker of its own beside the ingestion `Worker`: extraction is async LLM work, so it
runs on an event loop this thread owns, with a router whose SDK clients are bound to that
loop (`derive_router`: the container's router with `own_providers`; budget, ledger, cache,
prompts and metrics are shared). It uses the same queue (`pipelines.ingestion`'s
`extract_queue`), wakeup, lease and cancellation as ingestion: every progress write renews
the lease and tells whether the job is still ours, and a heartbeat thread renews it while a
model call runs. Each document's result (or error) is saved as it is done, so an attempt
retried after a crash starts at the next document. When no provider is healthy, the document
waits (`pipelines.ingestion.call_with_wait`) with the stage "waiting for a provider ..." and
resumes once a breaker lets a probe through; the job fails only after `wait.max_wait_s`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from core import FailureStreak, LecternError, is_database_unavailable
from ingest.embedding import Embedder
from ingest.storable import storable_json
from pipelines import ingestion
from pipelines.extract.sources import extract_document, extract_text
from pipelines.ingestion import (
    WAITING_STAGE,
    ExtractClaim,
    JobWakeup,
    ProviderWait,
    ProviderWaitExceeded,
    call_with_wait,
    default_worker_id,
    own_providers,
)
from pipelines.llm import BudgetExceeded, Router

log = logging.getLogger("lectern.extract_worker")
SessionFactory = Callable[[], Session]
STOP_CHECK_S = 0.2
TASK = "extract"


class JobLost(Exception):
    """The job is no longer ours (cancelled, deleted or taken over)."""


class ShuttingDown(Exception):
    """The worker is stopping: the job goes back to the queue."""


def derive_router(main: Router, environ: Mapping[str, str]) -> Router:
    """A router like `main` with providers of its own, for another event loop."""
    return Router(main.config, own_providers(main.config, main.providers, environ),
                  budget=main.budget, ledger=main.ledger, metrics=main.metrics,
                  cache=main.cache, prompts=main.prompts, semantic_cache=main.semantic_cache)


def error_json(exc: LecternError) -> dict[str, Any]:
    """The API error shape of `exc`, storable in PostgreSQL."""
    return dict(storable_json({"code": exc.code, "message": exc.message,
                               "details": exc.details}))


class _Run:
    """One claimed job: its progress writes (which double as cancellation points) and the
    heartbeat that renews its lease."""

    def __init__(self, worker: ExtractWorker, claim: ExtractClaim) -> None:
        self.worker, self.claim = worker, claim
        self.results = list(claim.results)
        self.stage = "starting"
        self.lost = threading.Event()
        self._done = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                      name=f"extract-lease-{claim.job.id}")

    def __enter__(self) -> _Run:
        self._beat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._beat.join()

    def save(self, stage: str | None = None, *, with_results: bool = False) -> None:
        """Write the stage and documents done; raise JobLost or ShuttingDown to stop."""
        if self.worker.stopping.is_set():
            raise ShuttingDown(str(self.claim.job.id))
        self.stage = stage or self.stage
        w = self.worker
        with w.session_factory() as session:
            mine = ingestion.save_progress(
                session, job=self.claim.job, worker_id=w.worker_id,
                lease_seconds=w.lease_seconds, stage=self.stage, done=len(self.results),
                results=self.results if with_results else None)
        if not mine:
            self.lost.set()
            raise JobLost(str(self.claim.job.id))

    def _heartbeat(self) -> None:
        while not self._done.wait(self.worker.lease_seconds / 3):
            try:
                self.save()
            except (JobLost, ShuttingDown):
                return
            except Exception as exc:  # a database blip: the next beat may succeed
                log.warning("extraction job %s: lease renewal failed (%s)",
                            self.claim.job.id, type(exc).__name__)

    async def pause(self, seconds: float) -> None:
        """Sleep, but stop within STOP_CHECK_S when the worker stops or the job is lost."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            if self.worker.stopping.is_set():
                raise ShuttingDown(str(self.claim.job.id))
            if self.lost.is_set():
                raise JobLost(str(self.claim.job.id))
            await asyncio.sleep(min(left, STOP_CHECK_S))


class ExtractWorker:
    """Claims and runs extraction jobs one at a time (see the module docstring).

    `router` returns the container's current router (None: no LLM), `wait` bounds the wait
    for a provider, `environ` builds the providers of this worker's own router.
    """

    def __init__(self, session_factory: SessionFactory, router: Callable[[], Router | None],
                 embedder: Embedder, *, wait: ProviderWait | None = None,
                 worker_id: str | None = None, lease_seconds: float = 30.0,
                 poll_interval: float = 0.5, environ: Mapping[str, str] | None = None) -> None:
        self.session_factory = session_factory
        self._router_source = router
        self.embedder = embedder
        self.wait = wait or ProviderWait()
        self.worker_id = worker_id or default_worker_id(f"extract-{uuid.uuid4().hex[:6]}")
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.environ = dict(environ or {})
        self.stopping = threading.Event()
        self.failures = FailureStreak(f"extraction worker {self.worker_id}", log)
        self.wakeup = JobWakeup(session_factory)
        self._main: Router | None = None
        self._own: Router | None = None

    def run(self, stop: threading.Event | None = None) -> None:
        """Run jobs until `stop` is set; a current job goes back to the queue."""
        if stop is not None:
            self.stopping = stop
        loop = asyncio.new_event_loop()
        try:
            while not self.stopping.is_set():
                try:
                    busy = loop.run_until_complete(self.run_once())
                except Exception as exc:
                    self.stopping.wait(self.failures.failed(exc))
                    continue
                self.failures.succeeded()
                if not busy:
                    self.wakeup.wait(self.poll_interval, self.stopping)
        finally:
            loop.run_until_complete(self._close_router())
            loop.close()
            self.wakeup.close()

    async def run_once(self) -> bool:
        """Claim one job and carry it to an end (or back to the queue); False if none."""
        with self.session_factory() as session:
            claim = ingestion.claim_extract(session, worker_id=self.worker_id,
                                            lease_seconds=self.lease_seconds)
        if claim is None:
            return False
        log.info("extraction job %s: claimed by %s (attempt %d)", claim.job.id,
                 self.worker_id, claim.job.attempts)
        with _Run(self, claim) as run:
            try:
                await self._process(run)
            except JobLost:
                log.info("extraction job %s: no longer ours (cancelled or taken over)",
                         claim.job.id)
            except ShuttingDown:
                with self.session_factory() as session:
                    ingestion.release_extract(session, job=claim.job, worker_id=self.worker_id)
            except (ProviderWaitExceeded, BudgetExceeded) as exc:
                self._end(run, error_json(exc))
            except Exception as exc:
                if is_database_unavailable(exc):
                    raise
                log.exception("extraction job %s: unexpected error", claim.job.id)
                self._retry_or_fail(run, exc)
        return True

    async def _process(self, run: _Run) -> None:
        request = run.claim.request
        ids = [uuid.UUID(i) for i in request.get("document_ids") or []]
        sources: list[uuid.UUID | None] = list(ids) if ids else [None]
        router = await self._router()
        for index in range(len(run.results), len(sources)):
            run.save(f"extracting {index + 1} of {len(sources)}")
            run.results.append(await self._one(run, router, sources[index]))
            run.save(with_results=True)
        with self.session_factory() as session:
            if not ingestion.finish_extract(session, job=run.claim.job,
                                            worker_id=self.worker_id, results=run.results):
                raise JobLost(str(run.claim.job.id))
        failed = sum(r["status"] == "failed" for r in run.results)
        log.info("extraction job %s: done, %d document(s), %d failed", run.claim.job.id,
                 len(run.results), failed)

    async def _one(self, run: _Run, router: Router | None,
                   document_id: uuid.UUID | None) -> dict[str, Any]:
        """One document's result: the extraction, or its error (an outage waits)."""
        request, tenant = run.claim.request, run.claim.job.tenant_id
        options = {"max_attempts": int(request.get("max_attempts") or 3),
                   "accept_invalid": bool(request.get("accept_invalid"))}
        schema = request["schema"]

        async def attempt() -> Any:
            if document_id is None:
                return await extract_text(router, tenant=tenant, text=request.get("text") or "",
                                          schema=schema, **options)
            with self.session_factory() as session:
                return await extract_document(router, session, self.embedder, tenant=tenant,
                                              document_id=document_id, schema=schema,
                                              **options)

        async def waiting(problem: str, waited: float, delay: float) -> None:
            stage = f"{WAITING_STAGE} (waited {waited:.0f} s, retry in {delay:.1f} s): {problem}"
            await asyncio.to_thread(run.save, stage)

        key = None if document_id is None else str(document_id)
        try:
            if router is None:
                result = await attempt()  # NoExtractor
            else:
                result = await call_with_wait(attempt, router=router, task=TASK, wait=self.wait,
                                              on_wait=waiting, structured=True, sleep=run.pause)
        except (ProviderWaitExceeded, BudgetExceeded):
            raise
        except LecternError as exc:
            return {"document_id": key, "status": "failed", "extraction": None,
                    "error": error_json(exc)}
        return {"document_id": key, "status": "succeeded",
                "extraction": storable_json(result.to_dict()), "error": None}

    def _end(self, run: _Run, error: dict[str, Any]) -> None:
        with self.session_factory() as session:
            if ingestion.fail_extract(session, job=run.claim.job, worker_id=self.worker_id,
                                      error=error, results=run.results):
                log.info("extraction job %s: failed (%s)", run.claim.job.id, error["code"])

    def _retry_or_fail(self, run: _Run, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"[:1000]
        error = {"code": "internal_error", "message": message,
                 "details": {"attempt": run.claim.job.attempts}}
        if run.claim.job.attempts >= run.claim.job.max_attempts:
            self._end(run, error)
            return
        with self.session_factory() as session:
            ingestion.requeue_extract(session, job=run.claim.job, worker_id=self.worker_id,
                                      error=error)

    async def _router(self) -> Router | None:
        """This worker's router for the container's current one (rebuilt if it changed)."""
        main = self._router_source()
        if main is not self._main:
            await self._close_router()
            self._main = main
            self._own = None if main is None else derive_router(main, self.environ)
        return self._own

    async def _close_router(self) -> None:
        own, main = self._own, self._main
        self._own = self._main = None
        if own is None or main is None:
            return
        shared = {id(p) for p in main.providers.values()}  # the loop-agnostic ones stay open
        for provider in own.providers.values():
            aclose = getattr(provider, "aclose", None)
            if aclose is not None and id(provider) not in shared:
                await aclose()
