"""Security headers and no server banner, over real HTTP: a real uvicorn server configured as
`lectern serve` configures it (`app.serving.http_server.uvicorn_config`), serving the e2e
container, for JSON, errors, the Prometheus text and an SSE answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from httpx_sse import connect_sse

from app.main import create_app
from app.middleware import SECURITY_HEADERS
from app.serving.http_server import uvicorn_config
from app.settings import WebSettings
from tests.support.api import Server
from tests.support.sockets import loopback_socket

EXPECTED = {
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
}


@pytest.fixture(scope="module")
def served(server: Server) -> Iterator[str]:
    """The e2e container behind uvicorn as `serve` runs it, on a free loopback port."""
    uv = uvicorn.Server(uvicorn_config(create_app(server.container), WebSettings(),
                                       lifespan="off"))
    sock = loopback_socket()
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        uv.should_exit = True
        thread.join(10)


def _check(response: httpx.Response) -> None:
    assert "server" not in response.headers, response.headers.get("server")
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name


def test_the_expected_headers_are_the_apps_own() -> None:
    assert {name.lower(): value for name, value in SECURITY_HEADERS.items()} == EXPECTED


def test_every_kind_of_response_has_them_and_no_server_banner(served: str, server: Server) -> None:
    key = {"Authorization": f"Bearer {server.keys['alpha']}"}
    with httpx.Client(base_url=served, timeout=30) as client:
        responses = {
            "health": client.get("/healthz"),
            "listing": client.get("/v1/documents", headers=key),
            "no key": client.get("/v1/documents"),
            "invalid": client.post("/v1/search", headers=key, json={"query": ""}),
            "too large": client.post("/v1/documents", headers=key,
                                     files={"file": ("big.txt", b"x" * (8 << 20))}),
            "no route": client.get("/nowhere"),
            "metrics": client.get("/metrics"),
        }
    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses == {"health": 200, "listing": 200, "no key": 401, "invalid": 422,
                        "too large": 413, "no route": 404, "metrics": 200}
    for response in responses.values():
        _check(response)


def test_a_streamed_answer_has_them_and_still_streams_event_by_event(
    served: str, server: Server
) -> None:
    key = {"Authorization": f"Bearer {server.keys['alpha']}"}
    with httpx.Client(base_url=served, timeout=60, headers=key) as client, connect_sse(
        client, "POST", "/v1/ask", json={"question": "What does the warranty cover?"}
    ) as source:
        _check(source.response)
        assert source.response.headers["content-type"].startswith("text/event-stream")
        assert source.response.headers["x-accel-buffering"] == "no"
        names = [event.event for event in source.iter_sse()]
    assert names[0] == "meta" and names[-1] == "done", names
