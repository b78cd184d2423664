"""LLM layer: cost ledger, budget reservations, answer cache.

Revision ID: 0002_llm
Revises: 0001_corpus
Create Date: 2026-11-23

Mirrors pipelines/llm/storage.py (constraint names follow its naming convention).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_llm"
down_revision = "0001_corpus"
branch_labels = None
depends_on = None

USD = sa.Numeric(14, 8)


def upgrade() -> None:
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("prompt_version", sa.Text(), nullable=False),
        sa.Column("attempt", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("input_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cost_usd", USD, server_default="0", nullable=False),
        sa.Column("latency_ms", sa.Integer(), server_default="0", nullable=False),
        sa.Column("ttft_ms", sa.Integer(), nullable=True),
        sa.Column("cached", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_llm_calls"),
        sa.CheckConstraint(
            "outcome IN ('ok', 'error', 'fallback', 'cancelled')", name="ck_llm_calls_outcome"
        ),
    )
    op.create_index("ix_llm_calls_tenant_id_created_at", "llm_calls", ["tenant_id", "created_at"])

    op.create_table(
        "llm_budget_reservations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("amount_usd", USD, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_llm_budget_reservations"),
    )
    op.create_index(
        "ix_llm_budget_reservations_tenant_id_created_at",
        "llm_budget_reservations",
        ["tenant_id", "created_at"],
    )

    op.create_table(
        "llm_answer_cache",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("prompt_version", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_llm_answer_cache"),
    )
    op.create_index("ix_llm_answer_cache_expires_at", "llm_answer_cache", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_llm_answer_cache_expires_at", table_name="llm_answer_cache")
    op.drop_table("llm_answer_cache")
    op.drop_index(
        "ix_llm_budget_reservations_tenant_id_created_at", table_name="llm_budget_reservations"
    )
    op.drop_table("llm_budget_reservations")
    op.drop_index("ix_llm_calls_tenant_id_created_at", table_name="llm_calls")
    op.drop_table("llm_calls")
