"""The extraction API end to end: real uvicorn, PostgreSQL, ingestion (OCR for the scan), and a
real Router whose provider speaks to the scripted OpenAI-protocol server through the `openai`
SDK. Also `lectern extract` as a subprocess against the same server."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from pipelines.llm import Budget, Ledger, LLMMetrics, Router, build_providers, parse_config
from tests.support import scripted_openai as so
from tests.support.api import Server, wait_for_job
from tests.support.cer import SAMPLES
from tests.support.extract import GOOD_RECEIPT, RECEIPT_PAGES, llm_config
from tests.support.scripted_openai import ScriptedOpenAI

GREENLEAF = {"company": "GREENLEAF MARKET", "date": "2024-11-08",
             "address": "214 Harbor Street, Portland, OR 97204", "total": "39.97"}


@pytest.fixture(scope="module")
def wired(server: Server, scripted_openai_session: ScriptedOpenAI
          ) -> Iterator[Router]:
    """The e2e container's LLM router is replaced, for this module, by one on the scripted
    server (and put back afterwards)."""
    config = llm_config(scripted_openai_session)
    providers, _ = build_providers(config, {})
    ledger = Ledger(server.container.engine)
    router = Router(config, providers, budget=Budget(server.container.engine, config.budgets,
                                                     ledger),
                    ledger=ledger, metrics=LLMMetrics(CollectorRegistry()))
    original = server.container.llm_router
    server.container.llm_router = router
    yield router
    server.container.llm_router = original


@pytest.fixture
def llm(wired: Router, scripted_openai: ScriptedOpenAI
        ) -> ScriptedOpenAI:
    return scripted_openai


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


def test_schemas_are_listed(alpha: httpx.Client) -> None:
    response = alpha.get("/v1/schemas")
    assert response.status_code == 200
    schemas = {s["name"]: s for s in response.json()["schemas"]}
    assert set(schemas) == {"receipt", "invoice"}
    assert "total" in schemas["receipt"]["json_schema"]["properties"]
    assert "line_items" in schemas["invoice"]["json_schema"]["properties"]


def test_extract_from_raw_text(alpha: httpx.Client, llm: ScriptedOpenAI) -> None:
    llm.script(so.structured(GOOD_RECEIPT))
    response = alpha.post("/v1/extract", json={"schema": "receipt",
                                               "text": "\f".join(RECEIPT_PAGES)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] == {"company": GOOD_RECEIPT["company"], "date": "2018-12-25",
                            "address": GOOD_RECEIPT["address"], "total": "9.00"}
    assert (body["valid"], body["attempts"], body["prompt"]) == (True, 1, "extract@v1")
    assert body["evidence"]["total"] == {"found": True, "page": 2, "quote": "TOTAL: 9.00",
                                         "score": 100.0}
    assert body["provider"] == "primary" and body["usage"]["cost_usd"] > 0
    assert {"schema", "data", "valid", "attempts", "evidence", "model", "provider", "prompt",
            "usage"} <= set(body)


def test_extract_from_a_stored_document_is_tenant_scoped(
    alpha: httpx.Client, beta: httpx.Client, llm: ScriptedOpenAI
) -> None:
    text = "\n".join(RECEIPT_PAGES) + f"\nref {uuid.uuid4().hex}\n"
    uploaded = alpha.post("/v1/documents", files={"file": ("receipt.txt", text.encode())})
    assert uploaded.status_code == 202, uploaded.text
    assert wait_for_job(alpha, uploaded.json()["job"]["id"])["status"] == "succeeded"
    document_id = uploaded.json()["document"]["id"]

    _error(beta.post("/v1/extract", json={"schema": "receipt", "document_id": document_id}),
           404, "document_not_found")
    assert not llm.requests
    llm.script(so.structured(GOOD_RECEIPT))
    response = alpha.post("/v1/extract", json={"schema": "receipt", "document_id": document_id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pages"] == [1] and body["evidence"]["date"]["found"]
    assert "TOTAL: 9.00" in llm.last_request.body["messages"][-1]["content"]


def test_multipart_upload_of_a_scan_is_ingested_then_extracted(
    alpha: httpx.Client, llm: ScriptedOpenAI
) -> None:
    llm.script(so.structured(GREENLEAF))
    scan = (SAMPLES / "receipt.png").read_bytes()
    response = alpha.post("/v1/extract", files={"file": ("receipt.png", scan)},
                          data={"schema": "receipt", "collection": "extract-e2e"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] == GREENLEAF and body["valid"]
    evidence = body["evidence"]
    assert all(evidence[k]["found"] and evidence[k]["page"] == 1 for k in GREENLEAF), evidence
    assert "TOTAL" in evidence["total"]["quote"] and "SUBTOTAL" not in evidence["total"]["quote"]
    assert "GREENLEAF" in llm.last_request.body["messages"][-1]["content"]  # the OCR text


def test_bad_requests_are_422(alpha: httpx.Client, llm: ScriptedOpenAI) -> None:
    error = _error(alpha.post("/v1/extract", json={"schema": {"type": "array", "items": {}},
                                                   "text": "x"}), 422, "invalid_schema")
    assert "top level must be" in error["message"]
    _error(alpha.post("/v1/extract", json={"schema": "passport", "text": "x"}), 422,
           "invalid_schema")
    _error(alpha.post("/v1/extract", json={"schema": "receipt"}), 422, "validation_error")
    _error(alpha.post("/v1/extract", files={"file": ("a.txt", b"hello")},
                      data={"schema": '{"type": '}), 422, "invalid_schema")
    assert not llm.requests


def test_failing_every_attempt_is_422_with_the_last_errors_and_output(
    alpha: httpx.Client, llm: ScriptedOpenAI
) -> None:
    llm.script(*[so.structured({**GOOD_RECEIPT, "total": "n/a"})] * 2)
    response = alpha.post("/v1/extract", json={"schema": "receipt", "text": RECEIPT_PAGES[1],
                                               "max_attempts": 2})
    error = _error(response, 422, "extraction_failed")
    assert error["details"]["attempts"] == 2 and '"n/a"' in error["details"]["raw_output"]
    assert error["details"]["errors"][0]["loc"] == "total"
    assert len(llm.requests) == 2


def test_without_an_llm_extraction_is_503_with_how_to(server: Server, alpha: httpx.Client,
                                                       wired: Router) -> None:
    offline = parse_config({}, {})  # the default with no keys: the extractive answerer only
    ledger = Ledger(server.container.engine)
    server.container.llm_router = Router(
        offline, build_providers(offline, {})[0], ledger=ledger,
        budget=Budget(server.container.engine, offline.budgets, ledger),
        metrics=LLMMetrics(CollectorRegistry()))
    try:
        error = _error(alpha.post("/v1/extract", json={"schema": "receipt", "text": "x"}),
                       503, "no_extractor")
    finally:
        server.container.llm_router = wired
    assert "OPENAI_API_KEY" in error["message"] and "LECTERN_CONFIG" in error["message"]


def test_cli_extract_uploads_waits_and_prints_json(
    server: Server, llm: ScriptedOpenAI, tmp_path: Path
) -> None:
    source = tmp_path / "receipt.txt"
    source.write_text("\n".join(RECEIPT_PAGES) + f"\nref {uuid.uuid4().hex}\n")
    llm.script(so.structured(GOOD_RECEIPT))
    command = [sys.executable, "-m", "app.cli.main", "extract", str(source), "--schema", "receipt",
               "--url", server.url, "--api-key", server.keys["alpha"]]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["data"]["total"] == "9.00" and body["valid"]
    assert "succeeded" in result.stderr

    llm.script(*[so.structured({**GOOD_RECEIPT, "date": "never"})] * 3)
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 1 and "extraction_failed" in result.stderr
    assert "not a recognised date" in result.stderr
