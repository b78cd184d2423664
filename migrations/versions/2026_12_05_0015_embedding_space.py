"""Embedding space: which model and runtime made the corpus's vectors.

Revision ID: 0015_embedding_space
Revises: 0013_answer_feedback
Create Date: 2026-12-05

Why: lectern can run the same model on torch, ONNX Runtime fp32 or ONNX Runtime int8
(`LECTERN_EMBEDDING_RUNTIME`); int8 vectors do not mix with the others in one index. One row
(`id = 1`) records the model's fingerprint and the runtime; start-up refuses an embedder whose
vectors are not compatible with it (`ingest.embedding_space.reconcile`). Left empty here: the
first start-up records it (a corpus that already has chunks as made by torch, the only runtime
before this revision).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_embedding_space"
down_revision = "0013_answer_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embedding_space",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("runtime", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("id = 1", name="ck_embedding_space_one_row"),
        sa.PrimaryKeyConstraint("id", name="pk_embedding_space"),
    )


def downgrade() -> None:
    op.drop_table("embedding_space")
