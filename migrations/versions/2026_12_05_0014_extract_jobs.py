"""Extraction jobs: the request and results of a `jobs` row of kind "extract".

Revision ID: 0014_extract_jobs
Revises: 0011_webhooks
Create Date: 2026-12-05

Why a table beside `jobs` rather than columns on it: an extraction job uses the queue as it is
(claim, lease, progress, cancel, webhook outbox); only its payload is new, and it goes with the
job (ON DELETE CASCADE). `results` grows as documents are done, so a retried job skips them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_extract_jobs"
down_revision = "0011_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extract_jobs",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("results", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE",
                                name="fk_extract_jobs_job_id_jobs"),
        sa.PrimaryKeyConstraint("job_id", name="pk_extract_jobs"),
    )


def downgrade() -> None:
    op.drop_table("extract_jobs")
