"""`/v1/keys`: an admin key creates, lists and revokes tenant keys; other keys get 403; keys
carry a name, creation and last-use times and an optional expiry, and an expired key is 401."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from app.auth import create_key
from app.auth_cache import KeyCache
from app.container import Container
from app.db.api_keys import ApiKey


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _make(container: Container, tenant: str = "ops", *, admin: bool = False, name: str = "",
          expires_at: datetime | None = None) -> str:
    with container.session_factory() as session:
        return create_key(session, tenant, name, admin=admin, expires_at=expires_at)


def test_an_admin_key_creates_lists_and_revokes_tenant_keys(
        client: TestClient, container: Container) -> None:
    admin = _bearer(_make(container, admin=True, name="root"))
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    created = client.post("/v1/keys", headers=admin, json={
        "tenant": "acme", "name": "ci", "rpm": 5, "tpm": 1000, "expires_at": expires})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith("lk_") and body["key"].startswith(body["prefix"])
    assert (body["tenant"], body["name"], body["rpm"], body["tpm"], body["admin"]) == (
        "acme", "ci", 5, 1000, False)
    assert body["last_used_at"] is None and body["revoked_at"] is None

    new_key = _bearer(body["key"])
    assert client.get("/v1/documents", headers=new_key).status_code == 200
    assert client.get("/v1/keys", headers=new_key).status_code == 403  # not an admin

    listed = client.get("/v1/keys", headers=admin, params={"tenant": "acme"}).json()
    assert listed["total"] == 1
    (item,) = listed["items"]
    assert item["id"] == body["id"] and "key" not in item
    assert item["last_used_at"] is not None, "the request above used it"
    assert datetime.fromisoformat(item["expires_at"]) > datetime.now(UTC) + timedelta(days=29)
    assert {k["tenant"] for k in client.get("/v1/keys", headers=admin).json()["items"]} == {
        "ops", "acme"}

    revoked = client.delete(f"/v1/keys/{body['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/v1/documents", headers=new_key).status_code == 401
    missing = client.delete("/v1/keys/00000000-0000-0000-0000-000000000000", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "key_not_found"


def test_other_keys_and_no_key_may_not_manage_keys(client: TestClient,
                                                   container: Container) -> None:
    assert client.get("/v1/keys").status_code == 403  # auth still off: no admin at all
    tenant_key = _bearer(_make(container, "acme"))
    for method, path in (("GET", "/v1/keys"), ("POST", "/v1/keys"),
                         ("DELETE", "/v1/keys/00000000-0000-0000-0000-000000000000")):
        response = client.request(method, path, headers=tenant_key, json={"tenant": "x"})
        assert response.status_code == 403, (method, response.text)
        assert response.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/keys").status_code == 401  # keys exist now


def test_bad_bodies_are_422(client: TestClient, container: Container) -> None:
    admin = _bearer(_make(container, admin=True))
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for body in ({"tenant": ""}, {"tenant": "a", "rpm": 0}, {"tenant": "a", "admin": True},
                 {"tenant": "a", "expires_at": past}):
        response = client.post("/v1/keys", headers=admin, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"


def test_an_expired_key_is_401(client: TestClient, container: Container) -> None:
    container.key_cache = KeyCache(0)  # the expiry is moved behind the app's back below
    key = _make(container, "acme", expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert client.get("/v1/documents", headers=_bearer(key)).status_code == 200
    with container.session_factory() as session:
        session.execute(update(ApiKey).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
    refused = client.get("/v1/documents", headers=_bearer(key))
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "expired API key"
