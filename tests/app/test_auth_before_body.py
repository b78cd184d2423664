"""Authentication is decided before the body: without a key, any `/v1/` request is 401 whatever
its body (malformed JSON, a broken or oversized upload, bad query parameters), and an upload's
bytes are not received at all."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.types import Message

from app.auth import create_key
from app.container import Container
from app.deps import get_tenant
from app.main import ROUTERS
from app.middleware import AuthGateMiddleware

JSON = {"Content-Type": "application/json"}
MULTIPART = {"Content-Type": "multipart/form-data; boundary=xyz"}
MALFORMED = [
    ("POST", "/v1/ask", JSON, b'{"question": '),
    ("POST", "/v1/search", JSON, b"[not json"),
    ("POST", "/v1/extract", JSON, b'{"schema": "receipt",'),
    ("POST", "/v1/ask", JSON, b'{"question": "q", "unknown": 1}'),
    ("POST", "/v1/documents", MULTIPART, b"--xyz\r\nbroken"),
    ("GET", "/v1/documents?limit=abc", {}, b""),
    ("GET", "/v1/jobs/not-a-uuid", {}, b""),
]


@pytest.fixture
def key(container: Container) -> str:
    """A key of tenant `acme`: from here on requests need one."""
    with container.session_factory() as session:
        return create_key(session, "acme")


@pytest.mark.parametrize(("method", "path", "headers", "body"), MALFORMED,
                         ids=[f"{m} {p} {b[:12]!r}" for m, p, _, b in MALFORMED])
def test_without_a_key_a_malformed_request_is_401_not_422(
    client: TestClient, key: str, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    refused = client.request(method, path, headers=headers, content=body)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "unauthorized"
    assert refused.headers["WWW-Authenticate"] == "Bearer"

    authorised = client.request(method, path, content=body,
                                headers={**headers, "Authorization": f"Bearer {key}"})
    assert authorised.status_code == 422, authorised.text


def test_without_a_key_an_oversized_upload_is_401_before_the_size_guard(
    client: TestClient, key: str
) -> None:
    headers = {**MULTIPART, "Content-Length": str(10**12)}  # a terabyte, over any limit
    response = client.post("/v1/documents", headers=headers, content=b"--xyz--\r\n")
    assert response.status_code == 401, response.text
    assert client.get("/v1/no-such-route").status_code == 401, "unknown /v1/ paths too"


def _upload_receiving(app: FastAPI, authorization: str | None) -> tuple[int, int]:
    """POST an upload straight to the ASGI app; return its status and how many times the app
    asked for a piece of the body."""
    received = 0
    status = 0
    chunks = [b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.md\"\r\n\r\n",
              b"# A\n\nbody\r\n--xyz--\r\n"]

    async def receive() -> Message:
        nonlocal received
        received += 1
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    headers = [(b"content-type", MULTIPART["Content-Type"].encode())]
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/v1/documents", "raw_path": b"",
             "root_path": "", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    return status, received


def test_an_upload_without_a_valid_key_is_refused_without_receiving_its_body(
    app: FastAPI, key: str
) -> None:
    assert _upload_receiving(app, None) == (401, 0)
    assert _upload_receiving(app, "Bearer lk_wrong") == (401, 0)
    status, received = _upload_receiving(app, f"Bearer {key}")
    assert status == 202 and received >= 2, "with its key the upload is read and accepted"


def _acts_for_a_tenant(dependant: Dependant) -> bool:
    return any(d.call is get_tenant or _acts_for_a_tenant(d) for d in dependant.dependencies)


def test_every_route_that_acts_for_a_tenant_is_behind_the_gate() -> None:
    paths = [route.path for router in ROUTERS for route in router.routes
             if isinstance(route, APIRoute) and _acts_for_a_tenant(route.dependant)]
    assert len(paths) > 10
    outside = [path for path in paths if not path.startswith(AuthGateMiddleware.TENANT_PATHS)]
    assert outside == [], "TenantDep on a route the gate does not authenticate"
