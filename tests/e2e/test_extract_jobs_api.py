"""Extraction jobs over HTTP against the e2e server (real uvicorn, PostgreSQL, ingestion and the
in-process extraction workers), with a real Router on the scripted OpenAI-protocol server
through the `openai` SDK: an async job waits while the provider is down and succeeds once it
returns; a batch over a collection has one result per document; bad batches are 4xx."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from pipelines.llm import Budget, Ledger, LLMConfig, LLMMetrics, Router, build_providers
from tests.support import scripted_openai as so
from tests.support.api import Server, upload, wait_for_job
from tests.support.extract import GOOD_RECEIPT, RECEIPT_PAGES, llm_config


@contextmanager
def routed(server: Server, config: LLMConfig) -> Iterator[Router]:
    """The e2e container's router replaced by one built from `config` (put back after); the
    extraction workers derive their own from it."""
    providers, _ = build_providers(config, {})
    ledger = Ledger(server.container.engine)
    router = Router(config, providers, budget=Budget(server.container.engine, config.budgets,
                                                     ledger),
                    ledger=ledger, metrics=LLMMetrics(CollectorRegistry()))
    original = server.container.llm_router
    server.container.llm_router = router
    try:
        yield router
    finally:
        server.container.llm_router = original


def follow(client: httpx.Client, job_id: str, timeout_s: float = 60.0
           ) -> tuple[dict[str, Any], list[str]]:
    """Poll `GET /v1/extract/jobs/{id}` until the job ends; the body and the stages seen."""
    stages: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(f"/v1/extract/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["stage"] and (not stages or stages[-1] != job["stage"]):
            stages.append(job["stage"])
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job, stages
        assert time.monotonic() < deadline, (job, stages)
        time.sleep(0.05)


def test_all_providers_down_the_async_job_waits_then_succeeds(
        server: Server, alpha: httpx.Client, scripted_openai: so.ScriptedOpenAI) -> None:
    config = llm_config(scripted_openai, breaker={"failures_to_open": 1, "cooldown_s": 0.5})
    scripted_openai.script(so.error(503), so.error(503), so.structured(GOOD_RECEIPT))
    with routed(server, config):
        response = alpha.post("/v1/extract", json={
            "schema": "receipt", "text": "\f".join(RECEIPT_PAGES), "async": True})
        assert response.status_code == 202, response.text
        queued = response.json()
        assert queued["status"] == "queued" and queued["schema"] == "receipt"
        assert queued["progress"] == {"documents_done": 0, "documents_total": 1}
        job, stages = follow(alpha, queued["id"])

    assert job["status"] == "succeeded", job
    assert any(s.startswith("waiting for a provider") for s in stages), stages
    assert len(scripted_openai.requests) == 3  # two refused, then the probe that served
    [result] = job["results"]
    assert result["status"] == "succeeded" and result["error"] is None
    extraction = result["extraction"]
    assert extraction["valid"] and extraction["data"]["total"] == "9.00"
    assert extraction["model"] == "primary-model" and extraction["evidence"]["total"]["page"] == 2
    assert job["progress"] == {"documents_done": 1, "documents_total": 1}
    plain = alpha.get(f"/v1/jobs/{queued['id']}").json()  # the queue's own view of it
    assert plain["status"] == "succeeded" and plain["document_id"] is None


def test_a_collection_batch_has_one_result_per_document(
        server: Server, alpha: httpx.Client, scripted_openai: so.ScriptedOpenAI) -> None:
    collection = f"receipts-{uuid.uuid4().hex[:8]}"
    ids = []
    for n in range(2):
        body = f"# Receipt {n} {uuid.uuid4().hex}\n\n" + "\n\n".join(RECEIPT_PAGES)
        sent = upload(alpha, f"receipt-{n}.md", body.encode(), collection=collection).json()
        wait_for_job(alpha, sent["job"]["id"])
        ids.append(sent["document"]["id"])
    scripted_openai.script(so.structured(GOOD_RECEIPT), so.structured(GOOD_RECEIPT))
    with routed(server, llm_config(scripted_openai)):
        response = alpha.post("/v1/extract", json={"schema": "receipt",
                                                   "collection": collection})
        assert response.status_code == 202, response.text
        job, _ = follow(alpha, response.json()["id"])
    assert job["status"] == "succeeded" and job["progress"]["documents_total"] == 2
    assert sorted(r["document_id"] for r in job["results"]) == sorted(ids)
    assert all(r["extraction"]["data"]["total"] == "9.00" for r in job["results"])


def test_bad_batches_are_rejected_before_anything_is_queued(
        server: Server, alpha: httpx.Client, beta: httpx.Client,
        scripted_openai: so.ScriptedOpenAI) -> None:
    with routed(server, llm_config(scripted_openai)):
        empty = alpha.post("/v1/extract", json={"schema": "receipt",
                                                "collection": f"none-{uuid.uuid4().hex}"})
        assert empty.status_code == 422 and empty.json()["error"]["code"] == "nothing_to_extract"
        unknown = alpha.post("/v1/extract", json={"schema": "receipt",
                                                  "document_ids": [str(uuid.uuid4())]})
        assert unknown.status_code == 404, unknown.text
        both = alpha.post("/v1/extract", json={"schema": "receipt", "text": "x",
                                               "collection": "c"})
        assert both.status_code == 422
        queued = alpha.post("/v1/extract", json={"schema": "receipt", "text": "TOTAL: 1.00",
                                                 "async": True}).json()
        assert beta.get(f"/v1/extract/jobs/{queued['id']}").status_code == 404
        follow(alpha, queued["id"])
    assert alpha.get(f"/v1/extract/jobs/{uuid.uuid4()}").status_code == 404
