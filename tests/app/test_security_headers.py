"""The security headers are set by the app itself, on every response: even the 500 of the
catch-all, which no route's response object makes (real HTTP is `tests/e2e`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.middleware import SECURITY_HEADERS


def test_the_500_of_the_catch_all_has_them_too(app: FastAPI, client: TestClient) -> None:
    @app.get("/probe/broken")
    def broken() -> None:
        raise RuntimeError("boom")

    response = client.get("/probe/broken")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
