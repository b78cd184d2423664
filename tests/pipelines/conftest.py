"""Fixtures of the use-case tests: a `QueueDb` on a database of its own per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.db.engine import make_engine, session_factory
from tests.support.database import DatabaseFactory
from tests.support.job_queue import QueueDb


@pytest.fixture
def db(fresh_database_url: DatabaseFactory) -> Iterator[QueueDb]:
    """An isolated database for one test, dropped afterwards."""
    url = fresh_database_url()
    engine = make_engine(url)
    yield QueueDb(url, session_factory(engine))
    engine.dispose()
