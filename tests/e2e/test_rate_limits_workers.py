"""Rate limits hold across HTTP worker processes: `lectern serve` with two workers (a
subprocess against a test database, as `tests/e2e/test_serve_workers.py` starts it), one key
limited to `LIMIT` requests a minute, requests on new connections so the kernel hands them to
either worker. Exactly `LIMIT` are served, by both workers, and every later one is 429 with
`Retry-After` and `X-RateLimit-*`, whichever worker answers it; `/metrics` counts the refusals
of both."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth import create_key
from tests.support.database import DatabaseFactory
from tests.support.processes import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[2]
STARTUP_S = 180.0
LIMIT = 12
EXTRA = 12


@pytest.fixture
def served(fresh_database_url: DatabaseFactory, tmp_path: Path) -> Iterator[tuple[str, int, str]]:
    """(url, parent pid, key): `serve --workers 2` with the key's limit from the settings."""
    database = fresh_database_url()
    engine = sa.create_engine(database)
    with Session(engine) as session:
        key = create_key(session, "acme")
    engine.dispose()
    port = free_port()
    env = {**os.environ, "LECTERN_DATABASE_URL": database, "LECTERN_PORT": str(port),
           "LECTERN_DATA_DIR": str(tmp_path / "data"), "LECTERN_INPROCESS_WORKER": "false",
           "LECTERN_RATE_KEY_RPM": str(LIMIT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "serve", "--workers", "2"], env=env, cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, f"{url}/healthz", timeout_s=STARTUP_S,
                      what="lectern serve --workers 2", output=lambda: process.communicate()[0])
        yield url, process.pid, key
    finally:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.communicate()


def _answering_worker(parent: int, port: int) -> int | None:
    """The worker holding the one open client connection on `port`."""
    for child in psutil.Process(parent).children():
        try:
            if any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
                   for c in child.net_connections(kind="tcp")):
                return int(child.pid)
        except psutil.NoSuchProcess:
            continue
    return None


def _refusals(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("lectern_rate_limit_refusals_total{") and 'scope="key"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_the_limit_holds_across_two_workers(served: tuple[str, int, str]) -> None:
    url, parent, key = served
    port = int(url.rsplit(":", 1)[1])
    auth = {"Authorization": f"Bearer {key}"}
    # Start at the beginning of a minute, so all requests fall in one window.
    probe = httpx.get(f"{url}/healthz", timeout=10)
    assert probe.status_code == 200
    seconds = time.time() % 60
    if seconds > 30:
        time.sleep(60.5 - seconds)

    answers: list[tuple[int, int | None, httpx.Headers]] = []
    for _ in range(LIMIT + EXTRA):
        with httpx.Client(base_url=url, timeout=30) as client:  # a new connection each
            response = client.get("/v1/documents", headers=auth)
            answers.append((response.status_code, _answering_worker(parent, port),
                            response.headers))
    statuses = [status for status, _, _ in answers]
    assert statuses == [200] * LIMIT + [429] * EXTRA, statuses
    workers = {pid for _, pid, _ in answers}
    assert len(workers) == 2 and None not in workers, f"answered by {workers}"
    served_by = {pid for status, pid, _ in answers if status == 200}
    refused_by = {pid for status, pid, _ in answers if status == 429}
    assert served_by or refused_by
    assert workers == served_by | refused_by

    for status, _, headers in answers:
        assert headers["X-RateLimit-Limit"] == str(LIMIT)
        if status == 429:
            assert headers["X-RateLimit-Remaining"] == "0"
            assert headers["Retry-After"] == headers["X-RateLimit-Reset"]
    remaining = [int(h["X-RateLimit-Remaining"]) for s, _, h in answers if s == 200]
    assert remaining == list(range(LIMIT - 1, -1, -1)), "one count shared by both workers"
    assert _refusals(url) == EXTRA
