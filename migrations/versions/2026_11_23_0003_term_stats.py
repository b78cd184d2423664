"""Per-tenant document frequency of every lexeme in `chunks.tsv`, kept exact by triggers.

Full-text ranking needs each query term's df (its idf). Counting matches at query time costs a
heap visit per matching chunk — 85,000 visits for a 12-term question at 100k chunks, about half
a second — so the counts live in `term_stats` instead, updated in the same transaction as the
chunks (statement-level triggers with transition tables, so bulk inserts, re-ingests and the
FK cascade of a document delete are all counted). A per-tenant advisory lock serialises the
writers of one tenant's counts until commit, which rules out deadlocks between concurrent
ingests whose batches touch the same lexemes in different orders. A lexeme whose chunks are
all gone keeps a row with df 0 (readers skip those), so the table never outgrows the vocabulary.

Revision ID: 0003_term_stats
Revises: 0002_llm
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_term_stats"
down_revision = "0002_llm"
branch_labels = None
depends_on = None

# One trigger function per event: a transition table is only visible to the trigger that
# declared it, and a trigger with transition tables may name one event only.
_EVENTS = {
    "insert": ("INSERT", "REFERENCING NEW TABLE AS new_rows", [("new_rows", 1)]),
    "delete": ("DELETE", "REFERENCING OLD TABLE AS old_rows", [("old_rows", -1)]),
    "update": (
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        [("old_rows", -1), ("new_rows", 1)],
    ),
}


def _function(event: str, parts: list[tuple[str, int]]) -> str:
    """The trigger function for `event`: lock each touched tenant, then add ±df per lexeme."""
    rows = " UNION ALL ".join(
        f"SELECT tenant_id, lexeme, {sign} AS n FROM {table}, unnest(tsvector_to_array(tsv))"
        " AS lexeme"
        for table, sign in parts
    )
    tenants = " UNION ".join(f"SELECT tenant_id FROM {table}" for table, _ in parts)
    return f"""
CREATE FUNCTION lectern_term_stats_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('lectern.term_stats:' || t.tenant_id, 0))
    FROM ({tenants}) AS t ORDER BY t.tenant_id;
    INSERT INTO term_stats (tenant_id, lexeme, df)
    SELECT tenant_id, lexeme, sum(n) FROM ({rows}) AS changed
    GROUP BY tenant_id, lexeme HAVING sum(n) <> 0
    ON CONFLICT (tenant_id, lexeme) DO UPDATE SET df = term_stats.df + excluded.df;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "term_stats",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("lexeme", sa.Text(), nullable=False),
        sa.Column("df", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "lexeme", name="pk_term_stats"),
    )
    for event, (when, referencing, parts) in _EVENTS.items():
        op.execute(_function(event, parts))
        op.execute(
            f"CREATE TRIGGER chunks_term_stats_{event} AFTER {when} ON chunks {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION lectern_term_stats_{event}()"
        )
    op.execute(
        "INSERT INTO term_stats (tenant_id, lexeme, df)"
        " SELECT tenant_id, lexeme, count(*) FROM chunks, unnest(tsvector_to_array(tsv)) AS lexeme"
        " GROUP BY tenant_id, lexeme"
    )


def downgrade() -> None:
    for event in _EVENTS:
        op.execute(f"DROP TRIGGER IF EXISTS chunks_term_stats_{event} ON chunks")
        op.execute(f"DROP FUNCTION IF EXISTS lectern_term_stats_{event}()")
    op.drop_table("term_stats")
