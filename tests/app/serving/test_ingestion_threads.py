"""The in-process workers' housekeeping: the answer cache's expired rows are deleted on a
schedule by the process that runs the ingestion workers, on a real database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from app.container import Container, build_container
from app.serving.ingestion_threads import start_inprocess
from app.settings import LLMSettings, Settings
from tests.app.serving.test_periodic import eventually
from tests.support.database import DatabaseFactory
from tests.support.fake_embedder import HashEmbedder

TENANT = "purge-test"


@pytest.fixture
def container(fresh_database_url: DatabaseFactory) -> Iterator[Container]:
    """A container purging every 50 ms, with one expired and one live cache entry."""
    built = build_container(Settings(llm=LLMSettings(cache_purge_seconds=0.05)),
                            database_url=fresh_database_url(), with_ocr=False,
                            embedder=HashEmbedder())
    cache = built.answer_cache
    cache.put_sync(TENANT, "expired", {"text": "old"}, model="m", prompt_version="v", ttl_s=0)
    cache.put_sync(TENANT, "live", {"text": "new"}, model="m", prompt_version="v", ttl_s=3600)
    yield built
    built.close()


def stored_keys(container: Container) -> set[str]:
    """Keys of the tenant's cache rows, expired ones included."""
    with container.engine.connect() as conn:
        rows = conn.execute(text("SELECT key FROM llm_answer_cache WHERE tenant_id = :t"),
                            {"t": TENANT})
        return {row.key for row in rows}


def test_in_process_workers_purge_expired_cache_rows_on_their_schedule(
    container: Container,
) -> None:
    assert stored_keys(container) == {"expired", "live"}
    workers = start_inprocess(container, name="purge-test")
    try:
        assert eventually(lambda: stored_keys(container) == {"live"})
    finally:
        assert workers.stop()

