"""`GET /healthz` says `ok` and a status word per check and nothing of the machine: no socket
path, host, URL, driver, error type or model path, whether the checks pass or fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.container import Container
from app.db.engine import make_engine
from tests.support.fake_embedder import HashEmbedder

SOCKET_DIR = "/tmp/lectern-healthz-no-such-socket"
MODEL_PATH = "/models/private/e5-base"
INTERNALS = (SOCKET_DIR, ".s.PGSQL", "postgresql", "psycopg", "Error", MODEL_PATH, "/")


class _UnloadableEmbedder(HashEmbedder):
    """An embedder whose model cannot be used: asking its dimension fails naming its path."""

    @property
    def dimension(self) -> int:
        raise OSError(f"{MODEL_PATH}/config.json: no such file")


@pytest.fixture
def broken_database(container: Container) -> Iterator[None]:
    """The container's engine points at a unix socket where no server listens."""
    working = container.engine
    container.engine = make_engine(f"postgresql+psycopg://nobody@/none?host={SOCKET_DIR}")
    try:
        yield
    finally:
        container.engine.dispose()
        container.engine = working


def _no_internals(text: str) -> None:
    for internal in INTERNALS:
        assert internal not in text, internal


def test_healthy_is_status_words_and_the_dimension(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "failed": [], "checks": {
        "process": {"ok": True, "status": "ok"},
        "database": {"ok": True, "status": "ok"},
        "embedder": {"ok": True, "status": "ok", "dimension": 384},
    }}


@pytest.mark.usefixtures("broken_database")
def test_a_database_on_a_missing_socket_is_unavailable_without_its_path(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == {"ok": False, "status": "unavailable"}
    _no_internals(response.text)
    assert any("healthz: database unavailable" in r.getMessage() for r in caplog.records)


def test_an_unusable_model_is_said_without_its_path(
    client: TestClient, container: Container
) -> None:
    container.embedder = _UnloadableEmbedder()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["embedder"] == {"ok": False, "status": "unusable"}
    _no_internals(response.text)

    container.embedder = HashEmbedder(dimension=768)
    response = client.get("/healthz")
    assert response.json()["checks"]["embedder"] == {
        "ok": False, "status": "wrong_dimension", "dimension": 768}
