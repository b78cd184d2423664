"""Jobs can be cancelled: `cancelled` joins the statuses the jobs table accepts.

Revision ID: 0007_job_cancelled
Revises: 0006_eval_runs
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0007_job_cancelled"
down_revision = "0006_eval_runs"
branch_labels = None
depends_on = None

# The constraint's name as 0001 created it under the naming convention ("ck_<table>_<name>").
_NAME = "ck_jobs_ck_jobs_status"


def _allow(statuses: str) -> None:
    op.execute(f"ALTER TABLE jobs DROP CONSTRAINT {_NAME}")
    op.execute(f"ALTER TABLE jobs ADD CONSTRAINT {_NAME} CHECK (status IN ({statuses}))")


def upgrade() -> None:
    _allow("'queued', 'running', 'succeeded', 'failed', 'cancelled'")


def downgrade() -> None:
    op.execute("UPDATE jobs SET status = 'failed' WHERE status = 'cancelled'")
    _allow("'queued', 'running', 'succeeded', 'failed'")
