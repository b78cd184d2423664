"""Rate limits over HTTP: requests and LLM tokens per minute per key and per tenant, the
failed-authentication throttle per client address, 429 with `Retry-After` and
`X-RateLimit-*` (OpenAI's error shape on its routes), and the refusals metric."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from app.auth import create_key
from app.container import Container, build_container
from app.main import create_app
from app.settings import RateLimitSettings, Settings
from pipelines.llm.ledger import CallRecord
from tests.support.database import DatabaseFactory
from tests.support.fake_embedder import HashEmbedder

Client = Callable[..., TestClient]


@pytest.fixture
def make_client(fresh_database_url: DatabaseFactory) -> Iterator[Client]:
    """`make_client(key_rpm=..., ...)`: an app with these rate limits over a fresh database."""
    built: list[tuple[Container, TestClient]] = []

    def make(**limits: int) -> TestClient:
        container = build_container(Settings(rate=RateLimitSettings(**limits)),
                                    database_url=fresh_database_url(), with_ocr=False,
                                    embedder=HashEmbedder())
        app = create_app(container)

        @app.post("/v1/probe/spend")
        def spend(request: Request, tokens: int) -> dict[str, int]:
            """Book `tokens` LLM tokens in the ledger under this request's id, as a route
            whose LLM call was answered does."""
            container.llm_router.ledger.record_sync(CallRecord(
                request_id=request.state.request_id, tenant=request.state.tenant, task="chat",
                provider="p", model="m", tier="mid", prompt_version="chat@v1", outcome="ok",
                input_tokens=tokens // 2, output_tokens=tokens - tokens // 2))
            return {"tokens": tokens}

        client = TestClient(app, raise_server_exceptions=False).__enter__()
        built.append((container, client))
        return client

    yield make
    for container, client in built:
        client.__exit__(None, None, None)
        container.close()


def _key(client: TestClient, tenant: str = "acme", **options: int) -> dict[str, str]:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    with container.session_factory() as session:
        return {"Authorization": f"Bearer {create_key(session, tenant, **options)}"}


def _refusals(client: TestClient, scope: str, unit: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("lectern_rate_limit_refusals_total{") and (
                f'scope="{scope}"' in line and f'unit="{unit}"' in line):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_key_gets_its_requests_per_minute_then_429_with_headers(make_client: Client) -> None:
    client = make_client(key_rpm=100)
    key = _key(client, rpm=3)  # the key's own limit replaces the default
    remaining = []
    for _ in range(3):
        response = client.get("/v1/documents", headers=key)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert 1 <= int(response.headers["X-RateLimit-Reset"]) <= 60
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]

    refused = client.get("/v1/documents", headers=key)
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["Retry-After"] == refused.headers["X-RateLimit-Reset"]
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["details"]["scope"] == "key" and error["details"]["unit"] == "requests"
    assert _refusals(client, "key", "requests") == 1
    # Another key of the same tenant has a bucket of its own.
    assert client.get("/v1/documents", headers=_key(client, rpm=3)).status_code == 200


def test_openai_routes_answer_429_in_openai_shape(make_client: Client) -> None:
    client = make_client(key_rpm=1)
    key = _key(client)
    assert client.get("/v1/models", headers=key).status_code == 200
    refused = client.post("/v1/chat/completions", headers=key,
                          json={"model": "lectern-rag", "messages": []})
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "requests"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "details" not in refused.json()["error"]
    assert {"retry-after", "x-ratelimit-limit", "x-ratelimit-remaining",
            "x-ratelimit-reset"} <= set(refused.headers.keys())


def test_a_tenant_limit_is_shared_by_its_keys(make_client: Client) -> None:
    client = make_client(tenant_rpm=2)
    first, second, other = _key(client), _key(client), _key(client, "rival")
    assert client.get("/v1/documents", headers=first).status_code == 200
    assert client.get("/v1/documents", headers=second).status_code == 200
    refused = client.get("/v1/documents", headers=first)
    assert refused.status_code == 429 and refused.json()["error"]["details"]["scope"] == "tenant"
    assert client.get("/v1/documents", headers=other).status_code == 200


def test_llm_tokens_per_minute_refuse_once_used_up(make_client: Client) -> None:
    client = make_client(tenant_tpm=1000)
    key = _key(client, tpm=100)
    assert client.post("/v1/probe/spend?tokens=60", headers=key).status_code == 200
    assert client.post("/v1/probe/spend?tokens=60", headers=key).status_code == 200  # under
    refused = client.get("/v1/documents", headers=key)  # 120 of 100 used: nothing more
    assert refused.status_code == 429
    details = refused.json()["error"]["details"]
    assert (details["scope"], details["unit"], details["limit"]) == ("key", "tokens", 100)
    assert refused.headers["X-RateLimit-Limit"] == "100"
    # The tenant's token budget counted the same 120 tokens, its other keys still go on.
    ok = client.get("/v1/documents", headers=_key(client))
    assert ok.status_code == 200 and ok.headers["X-RateLimit-Remaining"] == "880"


def test_failed_authentications_from_one_address_are_throttled(make_client: Client) -> None:
    client = make_client(auth_failures=3)
    key = _key(client)
    wrong = {"Authorization": "Bearer lk_wrong"}
    assert [client.get("/v1/documents", headers=wrong).status_code for _ in range(3)] == [
        401, 401, 401]
    refused = client.get("/v1/documents", headers=wrong)
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["scope"] == "address"
    assert int(refused.headers["Retry-After"]) >= 1
    # Blocked for the rest of the minute, whatever key it sends now.
    assert client.get("/v1/documents", headers=key).status_code == 429
    assert client.get("/healthz").status_code == 200  # outside the gate: not throttled
    assert _refusals(client, "address", "requests") == 2


def test_no_limits_no_headers(make_client: Client) -> None:
    client = make_client()
    response = client.get("/v1/documents", headers=_key(client))
    assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers
