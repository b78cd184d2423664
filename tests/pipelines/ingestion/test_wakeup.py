"""Idle workers wake when a job is queued (LISTEN/NOTIFY), not at their next poll."""

from __future__ import annotations

import asyncio
import threading
import time

from ingest.pipeline import IngestContext
from pipelines.ingestion import Worker
from pipelines.ingestion.wakeup import JobWakeup
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import QueueDb, markdown_doc
from tests.support.waiting import until


def test_a_queued_job_wakes_an_idle_worker_long_before_its_poll(db: QueueDb) -> None:
    worker = Worker(db.sessions, IngestContext(embedder=HashEmbedder()), poll_interval=60)
    stop = threading.Event()
    wakeup = worker.wakeup
    assert isinstance(wakeup, JobWakeup)
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        asyncio.run(until(lambda: wakeup.listening, what="the worker listening"))
        jobs = [db.submit(markdown_doc(2, f"wake-{i}")) for i in range(3)]
        asyncio.run(until(lambda: all(db.job(j.id).status == "succeeded" for j in jobs),
                          timeout=20, what="three jobs done without a 60 s poll"))
    finally:
        stop.set()
        started = time.monotonic()
        thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 5  # stops at once
    assert not wakeup.listening
