"""Rate limits and managed keys: the shared window counters, and what a key now carries.

Revision ID: 0008_rate_limits
Revises: 0007_job_cancelled
Create Date: 2026-12-03

Why: requests and LLM tokens per minute are limited per key and per tenant across every API
process, so their counters live in PostgreSQL (`rate_limit_windows`: one row per bucket and
minute, bumped by one upsert per request; `app.rate_limits`). Keys gain what `/v1/keys` and
`lectern keys create` set and show: an admin flag, their own limits, an expiry, and when they
were last used.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_rate_limits"
down_revision = "0007_job_cancelled"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_windows",
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("bucket", "window_start", name="pk_rate_limit_windows"),
    )
    op.create_index("ix_rate_limit_windows_window_start", "rate_limit_windows",
                    ["window_start"])
    op.add_column("api_keys", sa.Column("is_admin", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    op.add_column("api_keys", sa.Column("rpm", sa.Integer(), nullable=True))
    op.add_column("api_keys", sa.Column("tpm", sa.Integer(), nullable=True))
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True),
                                        nullable=True))


def downgrade() -> None:
    for column in ("last_used_at", "expires_at", "tpm", "rpm", "is_admin"):
        op.drop_column("api_keys", column)
    op.drop_table("rate_limit_windows")
