"""`lectern serve --workers N`: N uvicorn worker processes on one socket, under one parent.

Why: one process streams every SSE answer on one event loop and one GIL, so under a few
hundred concurrent streams it is bound to one core however many the machine has. uvicorn's
own supervisor (`uvicorn.supervisors.Multiprocess`) binds the socket once, spawns the
workers, restarts one that dies or stops answering its health check, and stops them all on
SIGTERM/SIGINT; lectern adds what must happen once per server, in the parent:

- the database: the embedded PostgreSQL is started (or reused) and supervised (restarted if
  it dies, `app.db.supervisor`) here and its URL handed to the workers as
  `LECTERN_DATABASE_URL`; migrations run here, before any worker starts;
- the in-process ingestion workers (`LECTERN_INPROCESS_WORKER`) run here, in the parent,
  and with them the answer cache's purge of expired rows;
- metrics: `PROMETHEUS_MULTIPROC_DIR` is set to a fresh temporary directory before
  prometheus_client is imported (children inherit it), so every process writes its samples
  there and `/metrics`, served by whichever worker, adds them up; the directory is removed at
  exit, and the live-gauge files of a worker that died without shutting down are dropped.

Each worker builds its own container (engine, embedding model, LLM router, search gate) from
the same settings in `worker_app`, the factory uvicorn calls in the child; what is sized by
cores and left at its default (torch threads of the embedder, searches at once) is shared out
among the workers (`worker_settings`) so N workers don't oversubscribe the machine N times.
Circuit breakers,
the search gate and the answer stream's in-memory state are therefore per worker; budgets, the
ledger, the answer cache, jobs and the corpus live in PostgreSQL and are shared.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from app.logs import configure_logging
from app.settings import Settings, SettingsError, load_settings, override

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.container import Container
    from app.serving.ingestion_threads import InprocessWorkers

log = logging.getLogger("lectern.serve")

WORKER_APP = "app.serving.http_workers:worker_app"
"""The import string uvicorn's children load (`factory=True`)."""
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db$")
_HEALTHCHECK_S = 30  # uvicorn's 5 s default kills workers that a loaded machine starves


def worker_app() -> FastAPI:
    """The app of one HTTP worker process: its own container, closed when the worker stops.

    Called by uvicorn in each child of `serve_workers`, which has put the database URL in
    the environment: a worker never starts or migrates the database itself. A setting the
    container refuses (an embedding model of the wrong dimension) is logged and the worker
    exits with uvicorn's start-up failure status, so the parent stops instead of restarting it.
    """
    from prometheus_client import multiprocess
    from uvicorn.config import STARTUP_FAILURE

    from app.container import build_container
    from app.main import create_app

    settings = worker_settings(load_settings())
    if not settings.database.url:
        raise RuntimeError(f"{WORKER_APP} is started by `lectern serve --workers N`, which "
                           "sets LECTERN_DATABASE_URL for its workers")
    configure_logging(settings.log.level)
    try:
        container = build_container(settings, with_ocr=False)
    except SettingsError as exc:
        log.error("%s", exc)
        sys.exit(STARTUP_FAILURE)
    app = create_app(container)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            container.close()
            if os.environ.get(METRICS_DIR_ENV):
                multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    app.router.lifespan_context = lifespan
    log.info("HTTP worker %d ready", os.getpid())
    return app


def worker_settings(settings: Settings, cores: int | None = None) -> Settings:
    """The settings of one of `settings.web.workers` HTTP workers: the defaults that are sized
    by the machine's `cores` (torch threads, searches at once) divided among the workers, at
    least one each; values set explicitly are per worker and kept as they are."""
    from ingest.embedding import available_cores
    from pipelines.search import default_limit

    workers = settings.web.workers
    cores = cores or available_cores()
    threads = settings.embedding.threads or max(1, cores // workers)
    searches = settings.search.concurrency or max(1, default_limit(cores) // workers)
    return override(settings, embedding={"threads": threads}, search={"concurrency": searches})


def serve_workers(settings: Settings, *, inprocess: bool) -> int:
    """Serve with `settings.web.workers` worker processes until SIGTERM/SIGINT; exit status.

    1 if a worker or the in-process ingestion failed to start (everything is then stopped),
    else 0. Raises `DatabaseSetupError` if the database cannot be started or migrated.
    """
    if "prometheus_client" in sys.modules:
        log.warning("prometheus_client was imported before %s was set: metrics of this "
                    "parent process (ingestion) will be missing from /metrics", METRICS_DIR_ENV)
    metrics_dir = tempfile.mkdtemp(prefix="lectern-metrics-")
    os.environ[METRICS_DIR_ENV] = metrics_dir
    log.info("%d HTTP workers; metrics of every process aggregated in %s",
             settings.web.workers, metrics_dir)

    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from app.container import start_database
    from app.db.engine import upgrade
    from app.db.supervisor import DatabaseSupervisor
    from app.serving.http_server import uvicorn_config

    cleanup = contextlib.ExitStack()  # unwound in reverse order
    try:
        cleanup.callback(shutil.rmtree, metrics_dir, ignore_errors=True)
        url, database = start_database(settings)
        if database is not None:
            cleanup.callback(database.close)
            cleanup.callback(DatabaseSupervisor(database).start().stop)  # stops first
        upgrade(url)
        os.environ["LECTERN_DATABASE_URL"] = url  # the workers' settings read these
        os.environ["LECTERN_WEB_WORKERS"] = str(settings.web.workers)
        config = uvicorn_config(WORKER_APP, settings.web, factory=True,
                                workers=settings.web.workers, lifespan="on",
                                timeout_worker_healthcheck=_HEALTHCHECK_S)
        sock = config.bind_socket()
        cleanup.callback(sock.close)
        supervisor = Multiprocess(config, sockets=[sock])  # from here signals are queued
        ingestion = _Ingestion(settings, url, on_failure=supervisor.should_exit) \
            if inprocess else None
        if ingestion is not None:
            cleanup.callback(ingestion.stop)
        stop_reaper = threading.Event()
        cleanup.callback(stop_reaper.set)
        threading.Thread(target=_reap_dead_gauges, args=(Path(metrics_dir), stop_reaper),
                         name="metrics-reaper", daemon=True).start()
        supervisor.run()
    finally:
        cleanup.close()
    failed = [p.pid for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
    if failed:
        log.error("HTTP worker(s) %s failed to start; see the errors above", failed)
    return 1 if failed or (ingestion is not None and ingestion.failed) else 0


class _Ingestion:
    """The parent's in-process ingestion workers, started on a thread of their own so that
    the parent loads its model while the HTTP workers load theirs (the start-up is mostly
    that). If they cannot start, `on_failure` is set: the server stops rather than accept
    uploads nobody would ingest."""

    def __init__(self, settings: Settings, url: str, *, on_failure: threading.Event) -> None:
        self.failed = False
        self._container: Container | None = None
        self._pool: InprocessWorkers | None = None
        self._thread = threading.Thread(target=self._start, args=(settings, url, on_failure),
                                        name="ingestion-start", daemon=True)
        self._thread.start()

    def _start(self, settings: Settings, url: str, on_failure: threading.Event) -> None:
        from app.container import build_container
        from app.serving.ingestion_threads import start_inprocess

        try:
            self._container = build_container(settings, database_url=url)
            self._pool = start_inprocess(self._container)
        except SettingsError as exc:
            log.error("in-process ingestion workers cannot start; stopping: %s", exc)
            self.failed = True
            on_failure.set()
        except Exception:
            log.exception("in-process ingestion workers failed to start; stopping")
            self.failed = True
            on_failure.set()

    def stop(self) -> None:
        """Wait for the start to end, stop the workers (releasing their jobs), close."""
        self._thread.join()
        if self._pool is not None:
            log.info("stopping in-process workers")
            if not self._pool.stop():
                log.warning("an in-process worker thread did not stop in time")
        if self._container is not None:
            self._container.close()


def _reap_dead_gauges(metrics_dir: Path, stop: threading.Event) -> None:
    """Every two seconds until `stop`, `reap_dead_gauges`."""
    while not stop.wait(2.0):
        reap_dead_gauges(metrics_dir)


def reap_dead_gauges(metrics_dir: Path) -> list[int]:
    """Drop the live-gauge files of processes that are gone; return their pids.

    A worker that shuts down does this itself; one that was killed (out of memory, or by the
    supervisor for failing its health check) leaves them, and its last values would count.
    """
    from prometheus_client import multiprocess

    dead = set()
    for path in metrics_dir.glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.match(path.name)
        if match and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, str(metrics_dir))  # type: ignore[no-untyped-call]
    return sorted(dead)


def _alive(pid: int) -> bool:
    """True if process `pid` exists (a zombie counts until its parent reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
