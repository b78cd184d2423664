"""Per-task budgets: a budget reservation says which task it holds money for.

Revision ID: 0009_budget_tasks
Revises: 0008_rate_limits
Create Date: 2026-12-04

Why: a task's daily budget (`[budgets.tasks]`) sums that task's ledger rows and its open
reservations; the ledger already records the task, the reservations did not. Old rows (and
calls of tasks without a budget of their own) keep NULL, which no task budget counts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_budget_tasks"
down_revision = "0008_rate_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("llm_budget_reservations", sa.Column("task", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("llm_budget_reservations", "task")
