"""The OpenAPI document documents what lectern answers, and validates; `/docs` and `/redoc`
load nothing from elsewhere."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from app.auth import create_key
from app.container import Container

ERROR_REFS = {"#/components/schemas/Error", "#/components/schemas/OpenAIError"}


@pytest.fixture
def doc(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items()
            for method, op in ops.items()]


def test_the_document_validates(doc: dict[str, Any]) -> None:
    validate(doc)  # raises on any error of OpenAPI 3.1


def test_every_error_response_has_lectern_error_schema(doc: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(doc) and "'detail'" not in str(doc)
    for path, method, op in _operations(doc):
        errors = {s: r for s, r in op["responses"].items() if int(s) >= 400}
        assert {"500", "503"} <= set(errors), (method, path)
        for status, response in errors.items():
            ref = response["content"]["application/json"]["schema"]["$ref"]
            expected = ("#/components/schemas/OpenAIError"
                        if path.startswith(("/v1/chat", "/v1/models", "/v1/embeddings"))
                        else "#/components/schemas/Error")
            assert ref == expected, (method, path, status)
        if path.startswith("/v1/"):
            assert {"401", "429"} <= set(errors), (method, path)
            assert "X-RateLimit-Remaining" in errors["429"]["headers"]
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message", "details"]


def test_the_documented_422_is_what_lectern_answers(doc: dict[str, Any],
                                                    client: TestClient) -> None:
    body = client.post("/v1/ask", json={}).json()
    jsonschema.validate(body, {**doc["components"]["schemas"]["Error"],
                               "components": doc["components"]})
    assert doc["paths"]["/v1/ask"]["post"]["responses"]["422"]


def test_every_request_body_has_a_valid_example(doc: dict[str, Any]) -> None:
    bodies = 0
    for path, method, op in _operations(doc):
        for content_type, media in op.get("requestBody", {}).get("content", {}).items():
            bodies += 1
            assert "example" in media, (method, path, content_type)
            if content_type == "application/json":  # true to the schema, refs resolved
                jsonschema.validate(media["example"], {**media["schema"],
                                                       "components": doc["components"]})
    assert bodies >= 11


def test_ask_documents_its_event_stream(doc: dict[str, Any]) -> None:
    ok = doc["paths"]["/v1/ask"]["post"]["responses"]["200"]
    stream = ok["content"]["text/event-stream"]
    assert set(stream["x-events"]) == {"meta", "sources", "token", "handover", "usage", "done",
                                       "error"}
    assert "event: token" in stream["example"] and "`done`" in ok["description"]
    assert "application/json" in ok["content"]  # "stream": false


def test_a_bearer_scheme_guards_the_api(doc: dict[str, Any]) -> None:
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, _method, op in _operations(doc):
        assert (op.get("security") == [{"bearerAuth": []}]) == path.startswith("/v1/"), path


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(page: str, client: TestClient,
                                           container: Container) -> None:
    with container.session_factory() as session:
        create_key(session, "acme")  # keys in use: the pages stay public all the same
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"(https?:)?//[a-z0-9]", html, re.IGNORECASE), "nothing from elsewhere"
    assets = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", html)
    assert assets and all(a.startswith("/docs/assets/") for a in assets), assets
    for asset in assets:
        loaded = client.get(asset)
        assert loaded.status_code == 200 and len(loaded.content) > 1000, asset
    assert "/openapi.json" in html
    assert client.get("/docs/assets/../../etc/passwd").status_code == 404


def test_extraction_responses_are_typed(doc: dict[str, Any]) -> None:
    content = doc["paths"]["/v1/extract"]["post"]["responses"]["200"]["content"]
    schema = content["application/json"]["schema"]
    refs = [schema["$ref"]] if "$ref" in schema else [s["$ref"] for s in schema["anyOf"]]
    ref = next(r for r in refs if r.endswith("/ExtractionOut"))
    typed = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {"schema", "data", "valid", "evidence", "pages"} <= set(typed["properties"])
    evidence = typed["properties"]["evidence"]["additionalProperties"]["$ref"]
    assert doc["components"]["schemas"][evidence.rsplit("/", 1)[-1]]["properties"]["found"]
