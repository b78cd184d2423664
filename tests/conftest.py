"""Fixtures shared by every test: a real PostgreSQL with pgvector, migrated databases, sessions.

The server is ``LECTERN_TEST_DATABASE_URL`` (a maintenance database such as ``.../postgres`` on a
server with pgvector, where the tests may CREATE DATABASE) or else an embedded server whose
cluster lives in ``/tmp/lectern-test-pg`` (outside /root and the repo; kept between runs, the
server stops when the last test process exits; fsync is off there, as nothing in it needs to
survive a crash). Migrations run once per session into a template database; every database
handed to tests is a copy of it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.db.embedded import EmbeddedDatabase
from app.db.engine import (
    drop_database,
    ensure_database,
    make_engine,
    normalise_database_url,
    upgrade,
)

# Before any test module imports transformers, sentence-transformers or pytesseract.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["OMP_THREAD_LIMIT"] = "1"

TEST_DATA_DIR = Path("/tmp/lectern-test-pg")
_OWNED_NAME = re.compile(r"^lectern_(?:test|tpl)_(\d+)_[0-9a-f]+$")


class DatabaseFactory(Protocol):
    """Makes a new database on the test server and returns its SQLAlchemy URL."""

    def __call__(self, *, migrated: bool = True) -> str: ...


def database_on(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url``."""
    url = make_url(normalise_database_url(server_url)).set(database=name)
    return url.render_as_string(hide_password=False)


def _admin(server_url: str, *statements: str) -> list[tuple[object, ...]]:
    """Run statements in autocommit on the maintenance database; rows of the last one."""
    engine = sa.create_engine(normalise_database_url(server_url), poolclass=NullPool)
    rows: list[tuple[object, ...]] = []
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in statements:
                result = conn.execute(sa.text(statement))
                rows = [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()
    return rows


def _new_name(kind: str) -> str:
    return f"lectern_{kind}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def _create(server_url: str, name: str, template: str | None = None) -> str:
    ensure_database(server_url, name, template=template)
    return database_on(server_url, name)


def _drop_orphans(server_url: str) -> None:
    """Drop test databases left by test processes that died (embedded server only)."""
    for (name,) in _admin(server_url, "SELECT datname FROM pg_database"):
        match = _OWNED_NAME.match(str(name))
        if match and not psutil.pid_exists(int(match.group(1))):
            drop_database(server_url, str(name))


@pytest.fixture(scope="session")
def database_server_url() -> Iterator[str]:
    """URL of the maintenance database (``postgres``) of the test server."""
    external = os.environ.get("LECTERN_TEST_DATABASE_URL")
    if external:
        yield normalise_database_url(external)
        return
    server = EmbeddedDatabase(TEST_DATA_DIR, database="postgres")
    url = server.start()
    if _admin(url, "SHOW fsync") != [("off",)]:  # a throwaway cluster: skip durability costs
        settings = ("fsync", "synchronous_commit", "full_page_writes")
        _admin(url, *(f"ALTER SYSTEM SET {name} = off" for name in settings))
        _admin(url, "SELECT pg_reload_conf()")
    _drop_orphans(url)
    yield url
    server.close()


@pytest.fixture(scope="session")
def migrated_template(database_server_url: str) -> Iterator[str]:
    """Name of a database migrated to head, never connected to again: a template to copy."""
    name = _new_name("tpl")
    upgrade(_create(database_server_url, name))
    yield name
    drop_database(database_server_url, name)


@pytest.fixture(scope="session")
def database_url(database_server_url: str, migrated_template: str) -> Iterator[str]:
    """SQLAlchemy URL of this session's database, migrated to head, dropped at the end."""
    name = _new_name("test")
    url = _create(database_server_url, name, template=migrated_template)
    yield url
    drop_database(database_server_url, name)


@pytest.fixture
def fresh_database_url(
    database_server_url: str, migrated_template: str
) -> Iterator[DatabaseFactory]:
    """Factory of isolated databases (migrated to head unless ``migrated=False``).

    Each is a copy of the template (milliseconds) and is dropped, FORCE, after the test: use
    it for tests that commit, run subprocess workers, or SIGKILL them.
    """
    created: list[str] = []

    def make(*, migrated: bool = True) -> str:
        name = _new_name("test")
        created.append(name)
        return _create(database_server_url, name, migrated_template if migrated else None)

    yield make
    for name in created:
        drop_database(database_server_url, name)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """A pooled engine on the session database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A Session whose work, commits included, is rolled back after the test.

    ``session.commit()`` only releases a SAVEPOINT inside an outer transaction that is rolled
    back, so tests share the session database without seeing each other's rows. Code that
    opens its own sessions or connections commits for real: give it ``fresh_database_url``.
    """
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            if transaction.is_active:
                transaction.rollback()
