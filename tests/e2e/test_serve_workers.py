"""`lectern serve` with two HTTP worker processes, as a user runs it (`LECTERN_WEB_WORKERS=2`).

The server is a subprocess on a free port against an empty database of the test server, so
this proves, over real HTTP: the parent migrates before the workers start; both worker
processes accept and answer requests (seen from the operating system: which process holds
each client's established connection, not from any endpoint of lectern); `/metrics`, answered
by either worker, counts the requests of both; an upload queued through a worker is ingested
by the one in-process ingestion worker of the parent; and SIGTERM stops the workers, the
in-process worker and the parent, and removes the metrics directory.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api import wait_for_job
from tests.support.database import DatabaseFactory
from tests.support.processes import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[2]
STARTUP_S = 180.0  # the parent and each worker load the embedding model on 2 busy cores


@dataclass
class Served:
    """The running `serve` parent, its URL and port."""

    process: subprocess.Popen[str]
    url: str
    port: int


@pytest.fixture
def served(fresh_database_url: DatabaseFactory, tmp_path: Path) -> Iterator[Served]:
    """`lectern serve` with LECTERN_WEB_WORKERS=2 until healthy; killed (tree) if left running."""
    port = free_port()
    env = {**os.environ, "LECTERN_DATABASE_URL": fresh_database_url(migrated=False),
           "LECTERN_PORT": str(port), "LECTERN_DATA_DIR": str(tmp_path / "data"),
           "LECTERN_OCR_WORKERS": "1", "LECTERN_WEB_WORKERS": "2"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen([sys.executable, "-m", "app.cli.main", "serve"], env=env, cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, f"{url}/healthz", timeout_s=STARTUP_S,
                      what="lectern serve --workers 2", output=lambda: process.communicate()[0])
        yield Served(process, url, port)
    finally:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.communicate()


def _serving_pids(parent: int, port: int) -> set[int]:
    """Child processes of `parent` holding an established connection on the server's port."""
    pids = set()
    for child in psutil.Process(parent).children():
        try:
            connections = child.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        if any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
               for c in connections):
            pids.add(child.pid)
    return pids


def _request_count(url: str, route: str) -> float:
    """`lectern_http_request_seconds_count` of GET `route` answered 200, from /metrics."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert 'pid="' not in response.text, "series of the workers must be added up"
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if (sample.name == "lectern_http_request_seconds_count"
                    and sample.labels == {"method": "GET", "route": route, "status": "200"}):
                return sample.value
    return 0.0


def test_two_workers_serve_share_metrics_and_stop_on_sigterm(served: Served) -> None:
    # One new connection per request, each kept open, until both workers have answered one.
    # The kernel hands each connection to whichever worker accepts first: usually both soon,
    # but on a busy machine one may win many times in a row, hence the loop.
    clients: list[httpx.Client] = []
    seen: set[int] = set()
    try:
        while len(seen) < 2 and len(clients) < 300:
            client = httpx.Client(base_url=served.url, timeout=30)
            clients.append(client)
            assert client.get("/v1/documents").status_code == 200
            seen |= _serving_pids(served.process.pid, served.port)
    finally:
        for client in clients:
            client.close()
    assert len(seen) == 2, f"only {seen} answered {len(clients)} connections"
    assert served.process.pid not in seen

    # Whichever worker answers /metrics, it counts every worker's requests.
    for _ in range(4):
        assert _request_count(served.url, "/v1/documents") == len(clients)

    # A document uploaded through a worker is ingested by the parent's in-process worker.
    body = b"# Workers\n\nTwo HTTP worker processes share one database and one ingestion queue.\n"
    created = httpx.post(f"{served.url}/v1/documents", files={"file": ("w.md", body)}, timeout=30)
    assert created.status_code == 202, created.text
    with httpx.Client(base_url=served.url, timeout=30) as client:
        job = wait_for_job(client, created.json()["job"]["id"], timeout_s=120)
    assert job["status"] == "succeeded", job

    workers = [c for c in psutil.Process(served.process.pid).children() if c.pid in seen]
    served.process.send_signal(signal.SIGTERM)
    output, _ = served.process.communicate(timeout=90)
    assert served.process.returncode == 0, output
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"workers still running after the parent exited: {alive}"
    assert output.count("started 2 ingestion worker thread(s)") == 1, output
    assert "stopping in-process workers" in output
    assert output.count("container closed") == 3, output  # two workers and the parent
    directory = re.search(r"aggregated in (\S+)", output)
    assert directory is not None and not Path(directory.group(1)).exists()
