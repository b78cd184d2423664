"""The ingestion worker: claims jobs, runs the ingest pipeline, stores the result exactly once.

A `Worker` claims one job at a time (states and guards: `pipelines.ingestion.queue`), renews its
lease from a heartbeat thread, and writes progress (stage, pages done of total) in small guarded
transactions that double as cancellation points: when the job is no longer ours (lease taken
over, or document deleted, which cascades to its jobs) or the worker is stopping, the pipeline
stops between pages or batches. Content errors (`IngestError` with a 4xx status) fail the job and
document at once; anything else is retried until `max_attempts`; a job whose workers died that
often fails as `worker_lost`. Each final outcome goes to the `IngestObserver`. While the
database is unreachable the worker backs off (0.5 s doubling to 30 s, with jitter) and logs
one line when it starts failing and one when it works again; a job whose connection was lost
is left to its lease, and claimed again once it expires. A job of a new version reads that
version's pending bytes and reuses the vectors of the document's current chunks whose embedded
text is unchanged (`pipelines.ingestion.versions`).
`pipelines.ingestion.pool` runs workers as threads of `serve`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from core import Backoff, FailureStreak, is_database_unavailable
from ingest import store
from ingest.errors import IngestError
from ingest.pipeline import (
    IngestContext,
    IngestResult,
    KnownVectors,
    Stage,
    nothing_known,
    run_ingest,
)
from ingest.processing_log import processing_log
from ingest.sniff import sniff
from ingest.storable import storable_json
from ingest.versions import known_vectors
from pipelines.ingestion import queue as job_queue
from pipelines.ingestion import versions
from pipelines.ingestion.observer import IngestObserver, Unobserved
from pipelines.ingestion.queue import Claimed
from pipelines.ingestion.wakeup import JobWakeup, Wakeup

log = logging.getLogger("lectern.worker")

DEFAULT_LEASE_SECONDS = 30.0
"""How long a claimed job stays a worker's without a heartbeat before another may take it."""
ENDING_GRACE_S = 2.0
"""How long a refused heartbeat waits for its own job to end before calling the lease lost: a
beat right after the job's final commit finds the job no longer running, yet nothing is lost."""

SessionFactory = Callable[[], Session]
ContextSource = IngestContext | Callable[[], IngestContext]


class JobLost(Exception):
    """This worker no longer owns the job: lease taken over, or job/document deleted."""


class ShuttingDown(Exception):
    """The worker was asked to stop; its job goes back to the queue."""


def default_worker_id(name: str = "worker") -> str:
    """`host:pid:name`, unique per live worker and readable in the jobs table."""
    return f"{socket.gethostname()}:{os.getpid()}:{name}"


class _Lease:
    """The heartbeat thread and the progress writes of one claimed job."""

    def __init__(self, worker: Worker, job: Claimed) -> None:
        self._worker, self._job = worker, job
        self.lost = threading.Event()
        self._finished = threading.Event()
        self._stage: str | None = None
        self._last_write = 0.0
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job.id}", daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finished.set()
        self._thread.join()

    def _renew(self, **values: Any) -> bool:
        w = self._worker
        with w.session_factory() as session:
            mine = job_queue.renew(
                session,
                job=self._job,
                worker_id=w.worker_id,
                lease_seconds=w.lease_seconds,
                **values,
            )
        if not mine:
            self.lost.set()
        return mine

    def _beat(self) -> None:
        while not self._finished.wait(self._worker.heartbeat_interval):
            try:
                if not self._renew():
                    if not self._finished.wait(ENDING_GRACE_S):
                        log.warning("job %s: lease lost", self._job.id)
                    return
            except Exception as exc:  # a database blip: the next beat may succeed
                log.warning("job %s: lease renewal failed (%s)", self._job.id,
                            type(exc).__name__, exc_info=not is_database_unavailable(exc))

    def progress(self, stage: Stage, done: int, total: int | None) -> None:
        """Record progress (throttled; stage changes and completion always written).

        Raises JobLost or ShuttingDown to interrupt the pipeline.
        """
        if self.lost.is_set():
            raise JobLost(str(self._job.id))
        if self._worker.stopping.is_set():
            raise ShuttingDown(str(self._job.id))
        now = time.monotonic()
        complete = total is not None and done >= total
        recent = now - self._last_write < self._worker.progress_interval
        if stage == self._stage and not complete and recent:
            return
        values: dict[str, Any] = {"stage": stage, "pages_done": done}
        if total is not None:
            values["pages_total"] = total
        if not self._renew(**values):
            raise JobLost(str(self._job.id))
        self._stage, self._last_write = stage, now


class Worker:
    """Claims and runs ingestion jobs one at a time; run several (threads or processes) to scale.

    `context` is the shared `IngestContext` or a zero-argument factory for one (its
    `on_progress` is replaced per job). A claim survives `lease_seconds` without a heartbeat;
    the heartbeat runs every `heartbeat_interval` seconds (default: a third of the lease).
    Several `Worker`s may share one session factory, context and `observer` (told of every
    job that ends), each in its own thread. `backoff` paces the retries while claiming or
    finishing jobs fails (default: 0.5 s doubling up to 30 s, ±20 % jitter). An idle worker
    waits on `wakeup` (default: woken by PostgreSQL notifications, see `wakeup`).
    """

    def __init__(
        self,
        session_factory: SessionFactory,
        context: ContextSource,
        *,
        worker_id: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        poll_interval: float = 0.5,
        heartbeat_interval: float | None = None,
        progress_interval: float = 0.25,
        observer: IngestObserver | None = None,
        backoff: Backoff | None = None,
        wakeup: Wakeup | None = None,
    ) -> None:
        self.session_factory = session_factory
        self._context = context
        self.worker_id = worker_id or default_worker_id(f"worker-{uuid.uuid4().hex[:6]}")
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval or lease_seconds / 3
        self.progress_interval = progress_interval
        self.observer: IngestObserver = observer or Unobserved()
        self.stopping = threading.Event()
        self.failures = FailureStreak(f"worker {self.worker_id}", log, backoff)
        self.wakeup: Wakeup = wakeup or JobWakeup(session_factory)

    def context(self) -> IngestContext:
        """The ingest context for the next job."""
        return self._context if isinstance(self._context, IngestContext) else self._context()

    def run_once(self) -> bool:
        """Claim one job and carry it to an end (or back to the queue); False if none waited."""
        with self.session_factory() as session:
            job = job_queue.claim(
                session, worker_id=self.worker_id, lease_seconds=self.lease_seconds
            )
        if job is None:
            return False
        log.info("job %s: claimed by %s (attempt %d)", job.id, self.worker_id, job.attempts)
        if job.attempts > job.max_attempts:  # its workers kept dying (e.g. killed for memory)
            message = f"the job's worker stopped {job.max_attempts} times without finishing"
            self._fail(job, "worker_lost", message, {"attempts": job.max_attempts})
        else:
            self._process(job)
        return True

    def run(self, stop: threading.Event | None = None) -> None:
        """Process jobs until `stop` (or `self.stopping`) is set; a current job is released.

        A failure to claim or finish (the database is unreachable, say) keeps the worker alive:
        it waits `self.failures`' backoff before trying again, logging the streak's start and end.
        """
        if stop is not None:
            self.stopping = stop
        while not self.stopping.is_set():
            try:
                busy = self.run_once()
            except Exception as exc:
                self.stopping.wait(self.failures.failed(exc))
                continue
            self.failures.succeeded()
            if not busy:
                self.wakeup.wait(self.poll_interval, self.stopping)
        self.wakeup.close()

    def _load(self, job: Claimed) -> tuple[bytes, str, KnownVectors] | None:
        """The bytes and file name the job ingests and the vectors it may reuse: a new
        version's pending bytes with the document's current vectors, else the document's own
        bytes with none to reuse (it has no chunks yet); None when the document is gone."""
        if job.document_id is None:
            return None
        with self.session_factory() as session:
            document = store.get_document(
                session, tenant=job.tenant_id, document_id=job.document_id
            )
            if document is None:
                return None
            pending = versions.pending_contents(session, job_id=job.id)
            if pending is not None:
                return pending.data, pending.filename, known_vectors(
                    session, tenant=job.tenant_id, document_id=document.id)
            data = store.load_file(session, tenant=job.tenant_id, document_id=document.id)
        return None if data is None else (data, document.filename, nothing_known)

    def _process(self, job: Claimed) -> None:
        loaded = self._load(job)
        if loaded is None:
            log.info("job %s: its document is gone; nothing to do", job.id)
            return
        data, filename, known = loaded
        started = time.perf_counter()
        try:
            with _Lease(self, job) as lease:
                result = self._ingest(job, data, filename, known, lease)
        except JobLost:
            log.warning("job %s: no longer ours (cancelled, deleted or taken over)", job.id)
        except ShuttingDown:
            with self.session_factory() as session:
                job_queue.release(session, job=job, worker_id=self.worker_id)
            log.info("job %s: released on shutdown", job.id)
        except IngestError as exc:
            if exc.http_status < 500:
                self._fail(job, exc.code, exc.message, exc.details)
            else:
                self._retry_or_fail(job, exc.code, exc)
        except Exception as exc:
            if is_database_unavailable(exc):  # nothing can be written; the lease will expire
                raise
            log.exception("job %s: unexpected error", job.id)
            self._retry_or_fail(job, "internal_error", exc)
        else:
            log.info(
                "job %s: succeeded, %d pages, %d chunks (%d reused) in %.2fs %s",
                job.id,
                len(result.pages),
                len(result.chunks),
                result.chunks_reused,
                time.perf_counter() - started,
                {stage: round(seconds, 3) for stage, seconds in result.timings.items()},
            )
            self.observer.job_finished(status="succeeded", code=None, log=processing_log(result))

    def _ingest(self, job: Claimed, data: bytes, filename: str, known: KnownVectors,
                lease: _Lease) -> IngestResult:
        """Run the pipeline (reusing `known` vectors) and store its result; `timings` gains
        "storing" (see `finish`)."""
        base = self.context()
        sniffed = sniff(data, filename, base.limits)
        result = run_ingest(data, sniffed, replace(base, on_progress=lease.progress), known)
        lease.progress("storing", len(result.pages), len(result.pages))
        with self.session_factory() as session:
            if not job_queue.finish(session, job=job, worker_id=self.worker_id, result=result):
                raise JobLost(str(job.id))
        return result

    def _fail(self, job: Claimed, code: str, message: str, details: dict[str, Any]) -> None:
        # Messages and details may quote the document (or a library reading it): storable.
        error = storable_json({"code": code, "message": message, "details": details})
        with self.session_factory() as session:
            if job_queue.fail(session, job=job, worker_id=self.worker_id, error=error):
                log.info("job %s: failed (%s: %s)", job.id, code, message)
                self.observer.job_finished(status="failed", code=code, log=None)

    def _retry_or_fail(self, job: Claimed, code: str, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"[:1000]
        if job.attempts >= job.max_attempts:
            self._fail(job, code, message, {"attempts": job.attempts})
            return
        error = storable_json({"code": code, "message": message,
                               "details": {"attempt": job.attempts}})
        with self.session_factory() as session:
            if job_queue.requeue(session, job=job, worker_id=self.worker_id, error=error):
                log.info("job %s: attempt %d failed, re-queued", job.id, job.attempts)
