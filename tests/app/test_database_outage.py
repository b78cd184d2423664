"""A database that cannot be reached is 503 `database_unavailable` on every route; a query
error is still a 500.

The outage is an app whose container points at a loopback port nobody listens on (the
connection is refused at once), and an exhausted pool of the working database; the query
errors run against the real database. The embedded server's death and restart are in
tests/e2e/test_database_outage.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.container import Container, build_container
from app.db.engine import CONNECT_TIMEOUT_S, session_factory
from app.deps import SessionDep
from app.main import create_app
from app.settings import Settings
from core import RETRY_AFTER_S
from tests.support.fake_embedder import HashEmbedder
from tests.support.processes import free_port

MISSING = "00000000-0000-4000-8000-000000000000"
SSE = {"headers": {"Accept": "text/event-stream"}}
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/v1/documents", {}),
    ("GET", f"/v1/documents/{MISSING}", {}),
    ("GET", f"/v1/documents/{MISSING}/chunks", {}),
    ("DELETE", f"/v1/documents/{MISSING}", {}),
    ("POST", "/v1/documents", {"files": {"file": ("a.md", b"# A\n\nsome text\n")}}),
    ("GET", "/v1/jobs", {}),
    ("GET", f"/v1/jobs/{MISSING}", {}),
    ("POST", "/v1/search", {"json": {"query": "revenue"}}),
    ("POST", "/v1/ask", {"json": {"question": "What was revenue?"}, **SSE}),
    ("POST", "/v1/ask", {"json": {"question": "What was revenue?", "stream": False}}),
    ("POST", "/v1/extract", {"json": {"schema": "receipt", "document_id": MISSING}}),
    ("GET", "/v1/usage", {}),
    ("GET", "/v1/alerts", {}),
]


@pytest.fixture(scope="module")
def refused_port() -> int:
    """A loopback port with no server behind it."""
    return free_port()


@pytest.fixture(scope="module")
def unreachable(refused_port: int) -> Iterator[TestClient]:
    """A client of an app whose database refuses every connection."""
    container = build_container(
        Settings(), database_url=f"postgresql+psycopg://lectern@127.0.0.1:{refused_port}/lectern",
        with_ocr=False, embedder=HashEmbedder())
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            yield client
    finally:
        container.close()


def _unavailable(response: Any, port: int) -> dict[str, Any]:
    """The 503 body, checked for its shape, its Retry-After and the absence of internals."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["Retry-After"] == str(RETRY_AFTER_S)
    body = response.json()
    assert body == {"error": {"code": "database_unavailable",
                              "message": body["error"]["message"],
                              "details": {"retry_after_s": RETRY_AFTER_S}}}
    for internal in ("127.0.0.1", str(port), "postgresql", "psycopg", "socket", "SELECT"):
        assert internal not in response.text
    return dict(body["error"])


@pytest.mark.parametrize(("method", "path", "options"), ROUTES,
                         ids=[f"{m} {p}{' SSE' if 'headers' in o else ''}"
                              for m, p, o in ROUTES])
def test_every_route_answers_503_database_unavailable(
    unreachable: TestClient, refused_port: int, method: str, path: str,
    options: dict[str, Any],
) -> None:
    error = _unavailable(unreachable.request(method, path, **options), refused_port)
    assert "retry" in error["message"]


def test_the_outage_is_logged_as_one_line_without_internals(
    unreachable: TestClient, refused_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = unreachable.get("/v1/documents")
    _unavailable(response, refused_port)
    errors = [r for r in caplog.records if r.name == "lectern.errors"]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "database_unavailable" in errors[0].getMessage()
    assert response.headers["X-Request-ID"] in errors[0].getMessage()
    access = [r.getMessage() for r in caplog.records if r.name == "lectern.access"]
    assert any("status=503" in line for line in access)


def test_healthz_says_the_database_is_unavailable(
    unreachable: TestClient, refused_port: int
) -> None:
    response = unreachable.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failed"] == ["database"]
    database = body["checks"]["database"]
    assert database["ok"] is False and database["status"] == "unavailable"
    assert body["checks"]["embedder"]["ok"] is True
    for internal in ("127.0.0.1", str(refused_port), "psycopg", "socket"):
        assert internal not in response.text


def test_an_exhausted_pool_is_503_too(
    app: FastAPI, client: TestClient, container: Container
) -> None:
    working = container.engine, container.session_factory
    small = create_engine(container.database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    container.engine, container.session_factory = small, session_factory(small)
    try:
        with small.connect():  # the pool's one connection, held
            _unavailable(client.get("/v1/documents"), port=-1)
    finally:
        container.engine, container.session_factory = working
        small.dispose()
    assert client.get("/v1/documents").status_code == 200


@pytest.mark.parametrize(
    "statement",
    ["SELECT * FROM no_such_table",  # ProgrammingError
     "SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)",  # OperationalError: QueryCanceled
     "SELECT 1/0"],  # DataError
    ids=["undefined-table", "statement-cancelled", "division-by-zero"])
def test_a_query_error_stays_a_500(
    app: FastAPI, client: TestClient, statement: str
) -> None:
    @app.get("/probe")
    def probe(session: SessionDep) -> None:
        for part in statement.split("; "):
            session.execute(text(part))

    response = client.get("/probe")
    assert response.status_code == 500, response.text
    assert response.json()["error"]["code"] == "internal_error"
    assert "Retry-After" not in response.headers


def test_new_connections_give_up_after_the_connect_timeout(container: Container) -> None:
    with container.engine.connect() as conn:
        driver = conn.connection.dbapi_connection
        assert driver is not None
        parameters = driver.info.get_parameters()  # type: ignore[attr-defined]
    assert parameters["connect_timeout"] == str(CONNECT_TIMEOUT_S)
