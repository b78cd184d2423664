"""A worker process SIGKILLed mid-job: its job is taken over and succeeds exactly once.

The doomed worker is a real `Worker` in its own Python process, slowed by an embedder defined
in this test's script only (no test hooks in library code), with a 2-second lease.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ingest.pipeline import IngestContext
from pipelines.ingestion import Worker
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import ROOT, QueueDb, markdown_doc

WORKER_SCRIPT = """
import sys, time
from app.db.engine import make_engine, session_factory
from ingest.pipeline import IngestContext
from pipelines.ingestion.worker import Worker
from tests.support.fake_embedder import HashEmbedder

class SlowEmbedder(HashEmbedder):
    def embed(self, texts):
        time.sleep(0.4)
        return super().embed(texts)

url, worker_id = sys.argv[1], sys.argv[2]
context = IngestContext(embedder=SlowEmbedder(), embed_batch=1)
Worker(session_factory(make_engine(url)), context, worker_id=worker_id, lease_seconds=2.0).run()
"""


def _start_worker(url: str, worker_id: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, url, worker_id],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkilled_worker_job_succeeds_exactly_once(db: QueueDb) -> None:
    job = db.submit(markdown_doc(12))
    proc = _start_worker(db.url, "doomed")
    try:
        deadline = time.monotonic() + 60
        while db.job(job.id).stage != "embedding":
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the subprocess worker never started embedding"
            time.sleep(0.05)
        running = db.job(job.id)
        assert (running.status, running.worker_id, running.attempts) == ("running", "doomed", 1)
        assert running.pages_total == 1
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert db.job(job.id).status == "running"  # nobody cleaned up: the lease must run out
    survivor = Worker(
        db.sessions, IngestContext(embedder=HashEmbedder()), worker_id="survivor", lease_seconds=2
    )
    deadline = time.monotonic() + 30
    while not survivor.run_once():
        assert time.monotonic() < deadline, "the orphaned job was never reclaimed"
        time.sleep(0.2)
    final = db.job(job.id)
    assert (final.status, final.attempts, final.worker_id) == ("succeeded", 2, "survivor")
    doc = db.document(job)
    assert doc is not None and doc.status == "ready" and doc.chunk_count
    assert db.chunk_stats(doc.id) == (doc.chunk_count, doc.chunk_count)
    assert not survivor.run_once()  # nothing else to do: it ran exactly once more
