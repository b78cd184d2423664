"""Ingestion as the API shows it: a document's warnings and processing log on
`GET /v1/documents/{id}`, a failed page's error on `…/pages`, and the ingestion metrics on
`GET /metrics` (jobs by final status, pages by method, stage seconds, queue depth), fed by the
workers the composition root starts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.container import Container
from app.serving.ingestion_threads import start_inprocess
from ingest.ocr_pool import SerialOcr
from pipelines import ingestion
from pipelines.ingestion import Worker
from tests.support.odd_pdfs import EngineRaisingOn, picture_pdf

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
NOTE = b"# Release notes\n\nThe importer now reads scanned invoices.\n"


def scrape(client: TestClient) -> Samples:
    """Every `lectern_ingest_` sample of `/metrics`, keyed by name and sorted labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples if sample.name.startswith("lectern_ingest_")}


def upload(client: TestClient, name: str, data: bytes) -> dict[str, Any]:
    response = client.post("/v1/documents", files={"file": (name, data)})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def wait(container: Container, job_id: str) -> None:
    done = ingestion.wait_for_job(container.session_factory, tenant="default", job_id=job_id,
                                  timeout_s=30, poll_s=0.05)
    assert done.status in ingestion.TERMINAL_STATUSES


def test_jobs_pages_stages_and_queue_depth(container: Container, client: TestClient) -> None:
    note = upload(client, "notes.md", NOTE)
    broken = upload(client, "broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> truncated")
    queued = scrape(client)
    assert queued[("lectern_ingest_queue_depth", (("status", "queued"),))] == 2
    assert queued[("lectern_ingest_queue_depth", (("status", "running"),))] == 0
    workers = start_inprocess(container)
    try:
        wait(container, note["job"]["id"])
        wait(container, broken["job"]["id"])
    finally:
        assert workers.stop()
    done = scrape(client)
    jobs = "lectern_ingest_jobs_total"
    assert done[(jobs, (("code", "none"), ("status", "succeeded")))] == 1
    assert done[(jobs, (("code", "corrupt_document"), ("status", "failed")))] == 1
    assert done[("lectern_ingest_pages_total", (("method", "text"),))] == 1
    assert done[("lectern_ingest_stage_seconds_count", (("stage", "embedding"),))] == 1
    assert done[("lectern_ingest_stage_seconds_count", (("stage", "storing"),))] == 1
    assert done[("lectern_ingest_queue_depth", (("status", "queued"),))] == 0

    document = client.get(f"/v1/documents/{note['document']['id']}").json()
    assert (document["status"], document["warnings"]) == ("ready", [])
    log = document["processing_log"]
    assert log["pages"] == {"text": 1, "ocr": 0, "failed": 0}
    assert (log["chars_removed"], log["ocr_mean_confidence"], log["chunks"]) == (0, None, 1)
    assert set(log["stage_seconds"]) >= {"reading", "embedding", "storing"}
    failed = client.get(f"/v1/documents/{broken['document']['id']}").json()
    assert (failed["processing_log"], failed["warnings"]) == (None, [])


def test_a_failed_page_shows_on_the_document_and_its_pages(container: Container,
                                                           client: TestClient) -> None:
    scan = upload(client, "scan.pdf", picture_pdf([200, 400, 200]))
    context = replace(container.ingest_context(), ocr=SerialOcr(EngineRaisingOn(min_width=1000)))
    worker = Worker(container.session_factory, context, observer=container.ingest_metrics)
    assert worker.run_once()
    document = client.get(f"/v1/documents/{scan['document']['id']}").json()
    assert document["status"] == "ready"
    assert document["warnings"] == [{
        "page": 2, "code": "ocr_failed", "message": "the engine choked on this page",
        "details": {"width": document["warnings"][0]["details"]["width"]}, "failed": True}]
    assert document["processing_log"]["pages"] == {"text": 0, "ocr": 2, "failed": 1}
    pages = client.get(f"/v1/documents/{scan['document']['id']}/pages").json()["items"]
    assert [page["error"] and page["error"]["code"] for page in pages] == [
        None, "ocr_failed", None]
    samples = scrape(client)
    assert samples[("lectern_ingest_pages_total", (("method", "failed"),))] == 1
    assert samples[("lectern_ingest_pages_total", (("method", "ocr"),))] == 2
