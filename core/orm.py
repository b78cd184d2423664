"""The one declarative base of every table, with the constraint naming convention.

Each package declares its own tables on `Base` (the corpus in `ingest`, jobs in
`pipelines.ingestion`, the ledger, reservations and cache in `pipelines.llm`, API keys in
`app.db`), so one `MetaData` describes the whole schema: the migrations spell out the same
names by hand, and a test compares this metadata with the migrated database.
"""

from __future__ import annotations

from sqlalchemy import MetaData, text
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every lectern table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")
"""For a transaction whose commit need not wait for its WAL to reach the disk: at most the
last fraction of a second of such commits is lost if PostgreSQL itself crashes (never on a
crash of lectern, never corrupted). The LLM ledger's rows and the rate-limit counters take
that trade: waiting was 5-8 ms of a gateway call on a busy disk, against 0.35 ms without."""
