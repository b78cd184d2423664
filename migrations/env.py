"""Alembic environment for lectern's static, hand-written migrations.

The database URL comes from the caller: ``config.attributes["url"]`` (set by
``app.db.engine.alembic_config``), else ``sqlalchemy.url`` in the ini file, else the
``LECTERN_DATABASE_URL`` environment variable for developers using Alembic's own CLI. The
models' metadata comes from the caller too (``config.attributes["target_metadata"]``, every
table of ``app.db.schema``): migrations stay hand-written, and the metadata lets a test (and
``alembic check``) compare the models with the migrated schema. Each migration commits in its
own transaction, so a failure leaves the database at the last good revision.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

config = context.config


def database_url() -> str:
    """The URL to migrate, with the psycopg 3 driver."""
    url = (
        config.attributes.get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("LECTERN_DATABASE_URL")
    )
    if not url:
        raise RuntimeError(
            "No database URL for Alembic: use `lectern db upgrade`, or set LECTERN_DATABASE_URL."
        )
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return str(url)


def run_migrations_offline() -> None:
    """Emit the SQL of the migrations instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=database_url(),
        target_metadata=config.attributes.get("target_metadata"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection,
                      target_metadata=config.attributes.get("target_metadata"),
                      transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a connection handed in, or on a fresh one to the URL."""
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    engine = create_engine(database_url(), poolclass=NullPool)
    try:
        with engine.connect() as fresh:
            _run(fresh)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
