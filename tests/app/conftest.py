"""Fixtures for the HTTP layer's own tests: an app over a fresh database, driven in-process.

The container is built by the real composition root (`build_container`) against a database of
its own (the app commits for real), with the deterministic `HashEmbedder` instead of the model
and no OCR pool: these tests are about routing, auth and error shapes, not ingestion. The
end-to-end suite (`tests/e2e`) runs the real model behind a real uvicorn server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.container import Container, build_container
from app.main import create_app
from app.settings import IngestSettings, Settings
from tests.support.api import UPLOAD_LIMIT
from tests.support.database import DatabaseFactory
from tests.support.fake_embedder import HashEmbedder


@pytest.fixture
def container(fresh_database_url: DatabaseFactory) -> Iterator[Container]:
    """A container on a fresh migrated database, with a 64 KiB upload limit."""
    built = build_container(
        Settings(ingest=IngestSettings(max_upload_bytes=UPLOAD_LIMIT)),
        database_url=fresh_database_url(),
        with_ocr=False,
        embedder=HashEmbedder(),
    )
    yield built
    built.close()


@pytest.fixture
def app(container: Container) -> FastAPI:
    """The app under test (tests may add probe routes to it)."""
    return create_app(container)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An in-process HTTP client of `app` that returns 5xx responses instead of raising."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
