"""Every error a request can meet comes back as `{"error": {code, message, details}}`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.container import Container
from app.db.engine import make_engine
from ingest.errors import CorruptDocument, IngestError
from pipelines.errors import PipelineError
from pipelines.llm import BudgetExceeded, LLMError
from retrieval.errors import InvalidQuery, RetrievalError
from tests.support.api import UPLOAD_LIMIT


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return dict(body["error"])


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    error = _error(client.get("/v1/nope"), 404, "not_found")
    assert "/v1/nope" in error["message"]
    error = _error(client.put("/v1/documents"), 405, "method_not_allowed")
    assert "PUT" in error["message"]


def test_validation_errors_are_422_naming_the_field(client: TestClient) -> None:
    error = _error(client.get("/v1/documents?limit=0"), 422, "validation_error")
    assert error["details"]["errors"][0]["loc"] == ["query", "limit"]
    assert "limit" in error["message"]
    error = _error(client.get("/v1/documents/not-a-uuid"), 422, "validation_error")
    assert error["details"]["errors"][0]["loc"] == ["path", "document_id"]
    error = _error(client.post("/v1/documents", data={"collection": "x"}), 422, "validation_error")
    assert ["body", "file"] in [e["loc"] for e in error["details"]["errors"]]


def test_unknown_ids_are_404_with_the_domain_code(client: TestClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    error = _error(client.get(f"/v1/documents/{missing}"), 404, "document_not_found")
    assert error["details"] == {"document_id": missing}
    _error(client.get(f"/v1/jobs/{missing}"), 404, "job_not_found")
    _error(client.delete(f"/v1/documents/{missing}"), 404, "document_not_found")


@pytest.mark.parametrize(
    ("raw", "needle"),
    [("{not json", "not valid JSON"), ("[1, 2]", "not array"), ('"text"', "not string")],
)
def test_metadata_must_be_a_json_object(client: TestClient, raw: str, needle: str) -> None:
    response = client.post(
        "/v1/documents", files={"file": ("a.txt", b"hello there")}, data={"metadata": raw}
    )
    error = _error(response, 422, "invalid_metadata")
    assert needle in error["message"]


def test_metadata_object_is_stored(client: TestClient) -> None:
    response = client.post(
        "/v1/documents",
        files={"file": ("a.txt", b"hello there")},
        data={"metadata": '{"team": "finance", "year": 2024}', "collection": "reports"},
    )
    assert response.status_code == 202
    document = response.json()["document"]
    assert document["metadata"] == {"team": "finance", "year": 2024}
    assert document["collection"] == "reports"


def test_bad_uploads_are_refused_with_their_own_status(client: TestClient) -> None:
    _error(client.post("/v1/documents", files={"file": ("e.pdf", b"")}), 400, "empty_file")
    error = _error(
        client.post("/v1/documents", files={"file": ("x.zip", b"PK\x03\x04" + bytes(200))}),
        415,
        "unsupported_file_type",
    )
    assert error["details"]


def test_file_just_over_the_limit_is_413_with_the_limit(client: TestClient) -> None:
    response = client.post("/v1/documents", files={"file": ("big.txt", b"a" * (UPLOAD_LIMIT + 1))})
    error = _error(response, 413, "file_too_large")
    assert error["details"]["limit"] == UPLOAD_LIMIT


def test_declared_oversize_body_is_refused_before_it_is_read(client: TestClient) -> None:
    # The body is tiny but the declared length is huge: the answer must come from the header.
    response = client.post(
        "/v1/documents",
        content=b"--x--\r\n",
        headers={
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(10 * 1024**3),
        },
    )
    error = _error(response, 413, "file_too_large")
    assert error["details"]["size"] == 10 * 1024**3


def test_oversize_body_without_content_length_is_counted(client: TestClient) -> None:
    # A generator body is sent chunked, with no Content-Length to trust: the bytes are counted.
    # (That reading stops early is shown over a real socket in tests/e2e.)
    def body() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        for _ in range(32):  # 2 MiB, well past the limit plus the form overhead
            yield b"a" * 65536

    response = client.post(
        "/v1/documents", content=body(), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert "content-length" not in response.request.headers
    error = _error(response, 413, "file_too_large")
    assert error["details"]["limit"] > UPLOAD_LIMIT


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (CorruptDocument("pdf is truncated", at=12), 422, "corrupt_document"),
        (IngestError("boom"), 500, "ingest_error"),
        (PipelineError("nope"), 500, "pipeline_error"),
        (InvalidQuery("empty query", field="query"), 422, "invalid_query"),
        (RetrievalError("x"), 500, "retrieval_error"),
        (BudgetExceeded("over budget", budget_usd=1.0), 402, "budget_exceeded"),
        (LLMError("provider down"), 502, "llm_error"),
    ],
)
def test_domain_errors_keep_their_status_code_and_details(
    app: FastAPI, client: TestClient, exc: Exception, status: int, code: str
) -> None:
    @app.get("/probe")
    def probe() -> None:
        raise exc

    error = _error(client.get("/probe"), status, code)
    assert error["message"] == str(exc)
    assert error["details"] == getattr(exc, "details", {})


def test_unexpected_error_is_500_naming_the_request_id_and_is_logged(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/explode")
    def explode() -> None:
        raise RuntimeError("secret internal detail")

    with caplog.at_level(logging.INFO):
        response = client.get("/explode")
    error = _error(response, 500, "internal_error")
    request_id = response.headers["X-Request-ID"]
    assert error["details"] == {"request_id": request_id}
    assert "secret internal detail" not in response.text
    logged = [r for r in caplog.records if r.name == "lectern.errors"]
    assert logged and request_id in logged[0].getMessage()
    assert logged[0].exc_info is not None
    access = [r.getMessage() for r in caplog.records if r.name == "lectern.access"]
    assert any("status=500" in line and request_id in line for line in access)


def test_request_id_is_echoed_or_generated(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="lectern.access"):
        echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        generated = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
        missing = client.get("/nope")
    assert echoed.headers["X-Request-ID"] == "abc-123"
    assert len(generated.headers["X-Request-ID"]) == 32
    assert missing.headers["X-Request-ID"] != generated.headers["X-Request-ID"]
    lines = [r.getMessage() for r in caplog.records if r.name == "lectern.access"]
    assert any("path=/healthz status=200" in s and "request_id=abc-123" in s for s in lines)
    assert any("path=/nope status=404" in line for line in lines)


def test_healthz_reports_ok_then_names_the_failed_check(
    client: TestClient, container: Container
) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["embedder"]["dimension"] == 384

    working: Engine = container.engine
    container.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        response = client.get("/healthz")
    finally:
        container.engine.dispose()
        container.engine = working
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["embedder"]["ok"] is True
