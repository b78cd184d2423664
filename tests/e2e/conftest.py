"""Real lectern servers for end-to-end tests: real uvicorn, PostgreSQL, model, Tesseract.

One server per test session (loading the model and starting OCR processes is the slow part):
a `Container` built by the real composition root against a database of its own, `create_app`
served by uvicorn on a free loopback port in a thread, and in-process ingestion workers.
Two API keys (tenants `alpha` and `beta`) exist from the start, so every request must carry
one; `alpha` and `beta` are `httpx.Client`s that do.

The answering tests get servers of their own, one per LLM config: `world` is a seeded database
per module (two tenants with keys), and `start(config)` serves it until the test ends.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session

from app.auth import create_key
from app.container import build_container
from app.db.engine import drop_database, ensure_database, make_engine
from app.main import create_app
from app.serving.ingestion_threads import start_inprocess
from app.settings import IngestSettings, Settings, WorkerSettings
from ingest.embedding import SentenceTransformerEmbedder, default_model_path
from tests.support.answer_corpus import ALPHA, BETA, seed
from tests.support.api import E2E_UPLOAD_LIMIT, Server
from tests.support.ask import World, serve
from tests.support.database import database_on
from tests.support.sockets import loopback_socket

TIMINGS = pytest.StashKey[dict[str, float]]()


@pytest.fixture(scope="session")
def e2e_database_url(database_server_url: str, migrated_template: str) -> Iterator[str]:
    """A migrated database used only by the e2e server (it commits for real)."""
    name = f"lectern_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"  # orphans get dropped by pid
    ensure_database(database_server_url, name, template=migrated_template)
    yield database_on(database_server_url, name)
    drop_database(database_server_url, name)


def _serve_in_thread(server: uvicorn.Server) -> tuple[str, threading.Thread]:
    sock = loopback_socket()
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", thread


@pytest.fixture(scope="session")
def server(e2e_database_url: str, request: pytest.FixtureRequest) -> Iterator[Server]:
    """Start container, workers and uvicorn once; stop them all at the end of the session."""
    settings = Settings(ingest=IngestSettings(max_upload_bytes=E2E_UPLOAD_LIMIT, ocr_workers=2),
                        workers=WorkerSettings(concurrency=1))
    container = build_container(settings, database_url=e2e_database_url)
    workers = start_inprocess(container, name="e2e")
    uv = uvicorn.Server(
        uvicorn.Config(create_app(container), log_config=None, access_log=False, lifespan="off")
    )
    try:
        url, thread = _serve_in_thread(uv)
        with container.session_factory() as session:
            keys = {tenant: create_key(session, tenant, "e2e") for tenant in ("alpha", "beta")}
        running = Server(url=url, container=container, keys=keys)
        request.config.stash[TIMINGS] = running.timings
        yield running
    finally:
        uv.should_exit = True
        if "thread" in locals():
            thread.join(15)
        workers.stop()
        container.close()


def _client(server: Server, tenant: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.keys[tenant]}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60.0)


@pytest.fixture(scope="session")
def alpha(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client acting as tenant `alpha`."""
    with _client(server, "alpha") as client:
        yield client


@pytest.fixture(scope="session")
def beta(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client acting as tenant `beta`."""
    with _client(server, "beta") as client:
        yield client


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformerEmbedder(default_model_path())


@pytest.fixture(scope="module")
def world(database_server_url: str, migrated_template: str,
          embedder: SentenceTransformerEmbedder) -> Iterator[World]:
    """A database of its own (servers commit for real), seeded once, with two tenants' keys."""
    name = f"lectern_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    ensure_database(database_server_url, name, template=migrated_template)
    url = database_on(database_server_url, name)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            docs = {"alpha": seed(session, tenant="alpha", embed=embedder.embed, passages=ALPHA),
                    "beta": seed(session, tenant="beta", embed=embedder.embed, passages=BETA)}
            session.commit()
            keys = {t: create_key(session, t, "ask-e2e") for t in ("alpha", "beta")}
    finally:
        engine.dispose()
    yield World(url, keys, docs)
    drop_database(database_server_url, name)


@pytest.fixture
def start(world: World, embedder: SentenceTransformerEmbedder) -> Iterator[Any]:
    """`start(config)` runs a server with that LLM config until the test ends."""
    with ExitStack() as stack:
        yield lambda config: stack.enter_context(serve(world, embedder, config))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the measured upload-to-succeeded times, when the e2e suite ran."""
    timings = terminalreporter.config.stash.get(TIMINGS, {})
    if timings:
        terminalreporter.section("lectern e2e: upload → job succeeded, over HTTP")
        for name, seconds in timings.items():
            terminalreporter.write_line(f"{name:<24} {seconds:6.2f} s")
