"""`app.client`: where the client (and the CLI) looks for the server, and how it reads errors,
including refusals that are not lectern's JSON."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from app.client import ClientError, Lectern, default_url


@pytest.mark.parametrize(("env", "url"), [
    ({}, "http://127.0.0.1:8000"),
    ({"LECTERN_PORT": "9100"}, "http://127.0.0.1:9100"),
    ({"LECTERN_HOST": "0.0.0.0", "LECTERN_PORT": "9100"}, "http://127.0.0.1:9100"),
    ({"LECTERN_HOST": "::1"}, "http://[::1]:8000"),
    ({"LECTERN_URL": "https://rag.example/", "LECTERN_PORT": "9100"}, "https://rag.example"),
])
def test_default_url_follows_the_server_settings(env: dict[str, str], url: str) -> None:
    assert default_url(env) == url


def test_errors_carry_code_details_and_retry_after() -> None:
    response = httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {
        "code": "rate_limit_exceeded", "message": "slow down", "details": {"limit": 3}}})
    error = ClientError.of(response)
    assert (error.status, error.code, error.details, error.retry_after_s) == (
        429, "rate_limit_exceeded", {"limit": 3}, 7)
    proxy = ClientError.of(httpx.Response(502, text="<html>Bad gateway</html>"))
    assert (proxy.code, proxy.message) == ("http_502", "<html>Bad gateway</html>")


def test_the_client_over_the_app(client: TestClient) -> None:
    lectern = Lectern(http=client)
    assert lectern.documents()["total"] == 0
    events = list(lectern.ask("What was revenue in 2023?"))
    assert events[0].name == "meta" and events[-1].name == "done"
    with pytest.raises(ClientError) as refused:
        lectern.search("")
    assert refused.value.status == 422
