"""Answers and their feedback: one row per finished answer, one rating per answer.

Revision ID: 0013_answer_feedback
Revises: 0014_extract_jobs
Create Date: 2026-12-05

Why: prompt variants are compared per version (answers, feedback, insufficient-evidence rate,
tokens, cost, latency), which needs each answer's figures under its id, and the user's up or
down on it. Chained after the head present when it was written (0014_extract_jobs), so the
history stays one line. No foreign key to conversations: deleting a thread keeps the figures.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_answer_feedback"
down_revision = "0014_extract_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=True),
        sa.Column("turn_id", sa.BigInteger(), nullable=True),
        sa.Column("question_hash", sa.Text(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=True),
        sa.Column("insufficient_evidence", sa.Boolean(), server_default="false",
                  nullable=False),
        sa.Column("cached", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("input_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cost_usd", sa.Numeric(14, 8), server_default="0", nullable=False),
        sa.Column("latency_ms", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_answers"),
    )
    op.create_index("ix_answers_tenant_id_prompt_created_at", "answers",
                    ["tenant_id", "prompt", "created_at"])
    op.create_table(
        "answer_feedback",
        sa.Column("answer_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("rating", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("rating IN ('up', 'down')", name="ck_answer_feedback_rating"),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], ondelete="CASCADE",
                                name="fk_answer_feedback_answer_id_answers"),
        sa.PrimaryKeyConstraint("answer_id", name="pk_answer_feedback"),
    )


def downgrade() -> None:
    op.drop_table("answer_feedback")
    op.drop_index("ix_answers_tenant_id_prompt_created_at", table_name="answers")
    op.drop_table("answers")
