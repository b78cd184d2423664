"""Extraction jobs on the real queue with a real Router on FakeProviders: an async job waits
while every provider is down (stage "waiting for a provider"), then succeeds once the
provider returns; a job whose outage outlasts the wait fails; a batch has one result per
document, a bad document failing alone; ingestion workers never take an extraction job."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine

from pipelines import ingestion
from pipelines.errors import DocumentNotFound
from pipelines.extract import ExtractWorker, get_extraction_job, submit_extraction
from pipelines.ingestion import ProviderWait, Worker
from pipelines.llm import FakeProvider, ProviderError, Router, parse_config
from tests.support.extract import GOOD_RECEIPT, RECEIPT_PAGES
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import QueueDb
from tests.support.routing import router as make_router

RECEIPT_TEXT = "\f".join(RECEIPT_PAGES)
FAST = ProviderWait(max_wait_s=30.0, initial_s=0.05, cap_s=0.2)


def down() -> ProviderError:
    return ProviderError("scripted outage", provider="cheap", status=503)


def one_model(cooldown_s: float = 0.3) -> Any:
    return parse_config({
        "providers": {"cheap": {"kind": "fake"}},
        "models": [{"id": "cheap-1", "provider": "cheap", "tier": "mid",
                    "price_in_per_mtok": 1.0, "price_out_per_mtok": 2.0}],
        "breaker": {"failures_to_open": 1, "cooldown_s": cooldown_s}}, {})


@contextmanager
def worker(db: QueueDb, router: Router, wait: ProviderWait = FAST) -> Iterator[ExtractWorker]:
    w = ExtractWorker(db.sessions, lambda: router, HashEmbedder(), wait=wait,
                      lease_seconds=5.0, poll_interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=w.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield w
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive()


def watch(db: QueueDb, tenant: str, job_id: uuid.UUID, until: Callable[[Any], bool],
          timeout_s: float = 30.0) -> tuple[Any, list[str]]:
    """Poll the job until `until(found)`; also return every stage seen on the way."""
    stages: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        with db.sessions() as session:
            found = get_extraction_job(session, tenant=tenant, job_id=job_id)
        if found.job.stage and (not stages or stages[-1] != found.job.stage):
            stages.append(found.job.stage)
        if until(found):
            return found, stages
        assert time.monotonic() < deadline, (found.job.status, stages)
        time.sleep(0.02)


def test_all_providers_down_the_async_job_waits_then_succeeds(db: QueueDb,
                                                              engine: Engine) -> None:
    fake = FakeProvider("cheap", [down(), down(), down(), json.dumps(GOOD_RECEIPT)])
    router = make_router(engine, one_model(), {"cheap": fake})
    with db.sessions() as session:
        job = submit_extraction(session, router, tenant="acme", schema="receipt",
                                text=RECEIPT_TEXT)
    assert job.kind == "extract" and job.status == "queued" and job.pages_total == 1

    with worker(db, router):
        found, stages = watch(db, "acme", job.id, lambda f: f.job.status == "succeeded")

    waiting = [s for s in stages if s.startswith("waiting for a provider")]
    assert waiting, stages
    assert "scripted outage" in waiting[0] or "breaker" in waiting[0]
    assert len(fake.calls) == 4  # three failures, then the probe that closed the breaker
    assert found.job.pages_done == 1 and found.job.error is None
    [result] = found.results
    assert result["status"] == "succeeded" and result["document_id"] is None
    extraction = result["extraction"]
    assert extraction["valid"] and extraction["data"]["total"] == "9.00"
    assert extraction["evidence"]["total"]["page"] == 2


def test_an_outage_longer_than_the_wait_fails_the_job(db: QueueDb, engine: Engine) -> None:
    fake = FakeProvider("cheap", [down() for _ in range(100)])
    router = make_router(engine, one_model(cooldown_s=0.05), {"cheap": fake})
    with db.sessions() as session:
        job = submit_extraction(session, router, tenant="acme", schema="receipt",
                                text=RECEIPT_TEXT)
    wait = ProviderWait(max_wait_s=0.6, initial_s=0.05, cap_s=0.1)
    with worker(db, router, wait):
        found, _ = watch(db, "acme", job.id, lambda f: f.job.status == "failed")
    assert found.job.error["code"] == "provider_wait_exceeded"
    assert found.job.error["details"]["waited_s"] >= 0.6
    assert "scripted outage" in found.job.error["details"]["last_error"]
    assert 2 <= len(fake.calls) < 100 and found.results == []


def test_a_batch_has_one_result_per_document(db: QueueDb, engine: Engine) -> None:
    fake = FakeProvider("cheap", default_reply=json.dumps(GOOD_RECEIPT))
    router = make_router(engine, one_model(), {"cheap": fake})
    processing = db.submit(b"# A note\n\nStill being ingested.\n").document_id
    assert processing is not None
    with db.sessions() as session:
        job = submit_extraction(session, router, tenant="acme", schema="receipt",
                                document_ids=[processing, processing])
    assert job.pages_total == 1  # the same document twice is one
    with worker(db, router):
        found, _ = watch(db, "acme", job.id, lambda f: f.job.status == "succeeded")
    [result] = found.results
    assert result["status"] == "failed" and result["document_id"] == str(processing)
    assert result["error"]["code"] == "document_not_ready" and not fake.calls


def test_submitting_checks_documents_before_queueing(db: QueueDb, engine: Engine) -> None:
    router = make_router(engine, one_model(), {"cheap": FakeProvider("cheap")})
    with db.sessions() as session, pytest.raises(DocumentNotFound):
        submit_extraction(session, router, tenant="acme", schema="receipt",
                          document_ids=[uuid.uuid4()])
    with db.sessions() as session:
        assert ingestion.list_jobs(session, tenant="acme").total == 0


def test_ingestion_workers_never_claim_an_extraction_job(db: QueueDb, engine: Engine) -> None:
    router = make_router(engine, one_model(), {"cheap": FakeProvider("cheap")})
    with db.sessions() as session:
        job = submit_extraction(session, router, tenant="acme", schema="receipt",
                                text=RECEIPT_TEXT)
    ingest_worker = Worker(db.sessions, lambda: pytest.fail("no ingest context is needed"))
    assert ingest_worker.run_once() is False
    with db.sessions() as session:
        assert ingestion.get_job(session, tenant="acme", job_id=job.id).status == "queued"
