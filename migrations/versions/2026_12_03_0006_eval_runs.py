"""Evaluation runs: a golden set's metrics per run, for `lectern eval` and `POST /v1/evals`.

Revision ID: 0006_eval_runs
Revises: 0005_conversations
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0006_eval_runs"
down_revision = "0005_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("collection", sa.Text()),
        sa.Column("question_count", sa.Integer(), nullable=False),
        sa.Column("metrics", pg.JSONB(), nullable=False),
        sa.Column("results", pg.JSONB(), nullable=False),
        sa.Column("suggested_min_score", sa.Float()),
        sa.Column("comparison", pg.JSONB()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_eval_runs"),
    )
    op.create_index("ix_eval_runs_tenant_id_name_created_at", "eval_runs",
                    ["tenant_id", "name", "created_at"])


def downgrade() -> None:
    op.drop_table("eval_runs")
