"""API keys: hashed storage, open until the first key and closed for good from then on, 401s,
revocation, tenant scoping."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import auth_required, create_key, keys_ever_created, list_keys, revoke, tenant_for_key
from app.auth_cache import KeyCache
from app.container import Container
from app.db.api_keys import ApiKey


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _upload(client: TestClient, key: str | None, text: str) -> str:
    headers = _bearer(key) if key else {}
    response = client.post(
        "/v1/documents", files={"file": ("n.md", text.encode())}, headers=headers
    )
    assert response.status_code == 202, response.text
    return str(response.json()["document"]["id"])


def test_key_is_random_prefixed_and_stored_only_as_its_sha256(db_session: Session) -> None:
    key = create_key(db_session, "acme", "ci")
    other = create_key(db_session, "acme", "ci")

    assert key.startswith("lk_") and len(key) >= 3 + 43 and key != other
    row = db_session.scalars(select(ApiKey).where(ApiKey.name == "ci")).first()
    assert row is not None
    stored = [row.key_hash, row.prefix, row.name, row.tenant_id]
    assert hashlib.sha256(key.encode()).hexdigest() in {
        r.key_hash for r in db_session.scalars(select(ApiKey))
    }
    assert not any(key in value for value in stored), "the plaintext key must not be stored"
    prefixes = [info.prefix for info in list_keys(db_session, "acme")]
    assert prefixes == [key[:11], other[:11]]


def test_auth_is_required_from_the_first_key_on_even_once_all_are_revoked(
    db_session: Session,
) -> None:
    assert not keys_ever_created(db_session) and not auth_required(db_session, None)
    key = create_key(db_session, "acme")
    assert auth_required(db_session, None)
    assert tenant_for_key(db_session, key) == "acme"
    assert tenant_for_key(db_session, key + "x") is None

    assert revoke(db_session, key) == 1
    assert tenant_for_key(db_session, key) is None
    assert keys_ever_created(db_session), "the revoked key stays as a row"
    assert auth_required(db_session, None), "revoking the last key must not reopen access"
    assert revoke(db_session, key) == 0, "revoking twice revokes nothing"


def test_revoke_by_display_prefix(db_session: Session) -> None:
    key = create_key(db_session, "acme")
    assert revoke(db_session, key[:11]) == 1
    assert tenant_for_key(db_session, key) is None


def test_without_keys_every_request_is_the_default_tenant(client: TestClient) -> None:
    document_id = _upload(client, None, "# Open\n\nanyone may read this")
    # Any header (even garbage) acts as `default` while no key exists.
    response = client.get(f"/v1/documents/{document_id}", headers=_bearer("lk_nonsense"))
    assert response.status_code == 200
    assert response.json()["id"] == document_id


def test_once_a_key_exists_missing_or_bad_keys_get_401_json(
    client: TestClient, container: Container
) -> None:
    with container.session_factory() as session:
        key = create_key(session, "acme")

    cases = {
        "missing": {},
        "unknown": _bearer("lk_" + "A" * 43),
        "wrong scheme": {"Authorization": f"Basic {key}"},
        "empty bearer": {"Authorization": "Bearer "},
    }
    for label, headers in cases.items():
        response = client.get("/v1/documents", headers=headers)
        assert response.status_code == 401, label
        error = response.json()["error"]
        assert error["code"] == "unauthorized", label
        assert "API key" in error["message"], label
        assert response.headers["WWW-Authenticate"] == "Bearer"

    assert client.get("/v1/documents", headers=_bearer(key)).status_code == 200
    assert client.get("/healthz").status_code == 200, "health needs no key"


def test_revoked_key_is_refused_while_others_still_work(
    client: TestClient, container: Container
) -> None:
    with container.session_factory() as session:
        old, current = create_key(session, "acme"), create_key(session, "acme")
        revoke(session, old)

    response = client.get("/v1/documents", headers=_bearer(old))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid or revoked API key"
    assert client.get("/v1/documents", headers=_bearer(current)).status_code == 200


def test_revoking_the_last_key_leaves_anonymous_requests_refused(
    client: TestClient, container: Container
) -> None:
    container.key_cache = KeyCache(0)  # revoked out of band, as by `lectern keys revoke`:
    # at once only without remembered keys (tests/app/test_auth_cache.py: within the TTL)
    document_id = _upload(client, None, "# Before keys\n\nuploaded while open")
    with container.session_factory() as session:
        key = create_key(session, "default")
    assert client.get("/v1/documents", headers=_bearer(key)).status_code == 200
    with container.session_factory() as session:
        assert revoke(session, key) == 1

    for path in ("/v1/documents", f"/v1/documents/{document_id}"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthorized"
    assert client.get("/v1/documents", headers=_bearer(key)).status_code == 401


def test_each_key_sees_only_its_tenants_documents(client: TestClient, container: Container) -> None:
    with container.session_factory() as session:
        alpha, beta = create_key(session, "alpha"), create_key(session, "beta")
    alpha_doc = _upload(client, alpha, "# Alpha\n\nalpha's secret plans")
    beta_doc = _upload(client, beta, "# Beta\n\nbeta's own notes")

    def listed(key: str) -> set[str]:
        response = client.get("/v1/documents", headers=_bearer(key))
        assert response.status_code == 200
        return {item["id"] for item in response.json()["items"]}

    assert listed(alpha) == {alpha_doc}
    assert listed(beta) == {beta_doc}
    for path in ("", "/chunks", "/pages"):
        response = client.get(f"/v1/documents/{alpha_doc}{path}", headers=_bearer(beta))
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "document_not_found"
    assert client.delete(f"/v1/documents/{alpha_doc}", headers=_bearer(beta)).status_code == 404
    assert client.get(f"/v1/documents/{alpha_doc}", headers=_bearer(alpha)).status_code == 200
