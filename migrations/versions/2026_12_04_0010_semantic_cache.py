"""Semantic answer cache: answers found again by a similar question on the same context.

Revision ID: 0010_semantic_cache
Revises: 0009_budget_tasks
Create Date: 2026-12-04

Why a table of its own: a lookup filters tenant and context hash (a handful of rows per
context), then orders by the cosine distance of the question embedding; no vector index is
needed at that size. Expired rows are purged with the exact cache's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision = "0010_semantic_cache"
down_revision = "0009_budget_tasks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")  # 0001 made it; a scratch test may not
    op.create_table(
        "llm_semantic_cache",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("context_hash", sa.Text(), nullable=False),
        sa.Column("prompt_version", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("guard", sa.Text(), nullable=False),
        sa.Column("embedding", Vector(384), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_llm_semantic_cache"),
    )
    op.create_index("ix_llm_semantic_cache_tenant_id_context_hash", "llm_semantic_cache",
                    ["tenant_id", "context_hash"])
    op.create_index("ix_llm_semantic_cache_expires_at", "llm_semantic_cache", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_llm_semantic_cache_expires_at", table_name="llm_semantic_cache")
    op.drop_index("ix_llm_semantic_cache_tenant_id_context_hash",
                  table_name="llm_semantic_cache")
    op.drop_table("llm_semantic_cache")
