"""Remembered keys (`app.auth_cache`): a verified key costs no query for the TTL, never past
its expiry; a key revoked through `/v1/keys` is refused at once, one revoked in another
process within the TTL; refused keys are never remembered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.auth import create_key, revoke
from app.auth_cache import KeyCache
from app.container import Container

TTL_S = 0.5


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def statements(container: Container) -> Iterator[list[str]]:
    """Every SQL statement the container's engine runs, as it runs them."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    engine: Engine = container.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _key_queries(statements: list[str]) -> int:
    return sum("api_keys" in s for s in statements)


def test_a_verified_key_is_served_without_a_query_until_the_ttl_ends(
    client: TestClient, container: Container, statements: list[str]
) -> None:
    container.key_cache = KeyCache(TTL_S)
    with container.session_factory() as session:
        key = create_key(session, "acme")
    assert client.get("/v1/collections", headers=_bearer(key)).status_code == 200
    first = _key_queries(statements)
    assert first >= 1
    for _ in range(5):
        assert client.get("/v1/collections", headers=_bearer(key)).status_code == 200
    assert _key_queries(statements) == first, "a remembered key must cost no key query"

    with container.session_factory() as session:
        assert revoke(session, key) == 1  # as `lectern keys revoke` does from another process
    assert client.get("/v1/collections", headers=_bearer(key)).status_code == 200
    time.sleep(TTL_S + 0.1)
    refused = client.get("/v1/collections", headers=_bearer(key))
    assert refused.status_code == 401, "past the TTL, the revocation holds here too"


def test_revoking_through_the_api_forgets_remembered_keys_at_once(
    client: TestClient, container: Container
) -> None:
    container.key_cache = KeyCache(60)
    with container.session_factory() as session:
        admin = create_key(session, "ops", admin=True)
    created = client.post("/v1/keys", json={"tenant": "acme", "name": "ci"},
                          headers=_bearer(admin))
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["id"]
    assert client.get("/v1/collections", headers=_bearer(key)).status_code == 200

    assert client.delete(f"/v1/keys/{key_id}", headers=_bearer(admin)).status_code == 200
    assert client.get("/v1/collections", headers=_bearer(key)).status_code == 401


def test_a_remembered_key_is_refused_once_it_expires(
    client: TestClient, container: Container
) -> None:
    container.key_cache = KeyCache(60)
    with container.session_factory() as session:
        key = create_key(session, "acme",
                         expires_at=datetime.now(UTC) + timedelta(seconds=1))
    assert client.get("/v1/collections", headers=_bearer(key)).status_code == 200
    time.sleep(1.1)
    refused = client.get("/v1/collections", headers=_bearer(key))
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "expired API key"


def test_a_refused_key_is_never_remembered(
    client: TestClient, container: Container, statements: list[str]
) -> None:
    container.key_cache = KeyCache(60)
    with container.session_factory() as session:
        create_key(session, "acme")
    for _ in range(3):
        assert client.get("/v1/collections", headers=_bearer("lk_guess")).status_code == 401
    before = _key_queries(statements)
    assert client.get("/v1/collections", headers=_bearer("lk_guess")).status_code == 401
    assert _key_queries(statements) > before, "each refused key is looked up again"
