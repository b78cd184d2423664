"""The test PostgreSQL server's helpers: database URLs, admin statements, owned database names.

The fixtures built on them (a migrated template, per-session and per-test databases, a
rolled-back session) are in `tests.support.fixtures.database`.
"""


from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Protocol

import psutil  # type: ignore[import-untyped, unused-ignore]
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.db.engine import (
    drop_database,
    ensure_database,
    normalise_database_url,
)

TEST_DATA_DIR = Path("/tmp/lectern-test-pg")
_OWNED_NAME = re.compile(r"^lectern_(?:test|tpl)_(\d+)_[0-9a-f]+$")


class DatabaseFactory(Protocol):
    """Makes a new database on the test server and returns its SQLAlchemy URL."""

    def __call__(self, *, migrated: bool = True) -> str: ...


def database_on(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url``."""
    url = make_url(normalise_database_url(server_url)).set(database=name)
    return url.render_as_string(hide_password=False)


def admin_sql(server_url: str, *statements: str) -> list[tuple[object, ...]]:
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


def owned_name(kind: str) -> str:
    """A new database name owned by this test process (`drop_orphans` knows it by the pid)."""
    return f"lectern_{kind}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """Create database `name` (a copy of `template` if given); its URL."""
    ensure_database(server_url, name, template=template)
    return database_on(server_url, name)


def drop_orphans(server_url: str) -> None:
    """Drop test databases left by test processes that died (embedded server only)."""
    for (name,) in admin_sql(server_url, "SELECT datname FROM pg_database"):
        match = _OWNED_NAME.match(str(name))
        if match and not psutil.pid_exists(int(match.group(1))):
            drop_database(server_url, str(name))


