"""Every table's model describes exactly what the hand-written migrations create.

The migrations are static and reviewed; the models are what the code queries. Alembic's
`compare_metadata` between the metadata of every model (`app.db.schema`) and a database
migrated to head finds any drift: a column, type, nullability, index, unique or foreign-key
constraint that one has and the other has not.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.pool import NullPool

from app.db.schema import schema_metadata
from tests.support.database import DatabaseFactory


def _differences(url: str, metadata: sa.MetaData) -> list[Any]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": _not_alembic})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _not_alembic(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name == "alembic_version")


def test_models_match_the_migrated_schema(fresh_database_url: DatabaseFactory) -> None:
    assert _differences(fresh_database_url(), schema_metadata()) == []


def test_a_model_that_drifts_is_found(fresh_database_url: DatabaseFactory) -> None:
    drifted = sa.MetaData()
    for table in schema_metadata().tables.values():
        table.to_metadata(drifted)
    drifted.tables["documents"].append_column(sa.Column("shoe_size", sa.Integer))
    found = _differences(fresh_database_url(), drifted)
    assert [(diff[0], diff[3].name) for diff in found] == [("add_column", "shoe_size")]
