"""What ingestion found and took per document: page warnings, processing log, page errors.

`documents.warnings` lists the document's page warnings (a page that failed, a text layer read
by OCR instead), `documents.processing_log` its processing log (stage seconds, pages by
method, OCR confidence, characters removed, running lines dropped), written when its job
succeeds; `pages.error` says why a failed page has no text.

Revision ID: 0004_processing_log
Revises: 0003_term_stats
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0004_processing_log"
down_revision = "0003_term_stats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "documents",
        sa.Column("warnings", pg.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.add_column("documents", sa.Column("processing_log", pg.JSONB()))
    op.add_column("pages", sa.Column("error", pg.JSONB()))


def downgrade() -> None:
    op.drop_column("pages", "error")
    op.drop_column("documents", "processing_log")
    op.drop_column("documents", "warnings")
