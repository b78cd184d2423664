"""Document versions: a version number and a client's `external_id` per document, the reuse
counts of a job, and the bytes of a version waiting for its job.

Revision ID: 0016_document_versions
Revises: 0015_embedding_space
Create Date: 2026-12-05

Why a table of pending versions rather than new columns on `documents`: while a new version
is ingested the document keeps its current bytes, pages and chunks (searches keep finding
them); the new bytes wait in `pending_versions`, one row per job, and move into the document
in the transaction that writes the new chunks. A job's row goes with it (FK cascade), and
with its document.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016_document_versions"
down_revision = "0015_embedding_space"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("documents", sa.Column("version", sa.Integer(), server_default="1",
                                         nullable=False))
    op.add_column("documents", sa.Column("external_id", sa.Text(), nullable=True))
    op.create_unique_constraint("uq_documents_tenant_id_external_id", "documents",
                                ["tenant_id", "external_id"])
    op.add_column("jobs", sa.Column("version", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("chunks_reused", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("chunks_embedded", sa.Integer(), nullable=True))
    op.create_table(
        "pending_versions",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE",
                                name="fk_pending_versions_job_id_jobs"),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE",
                                name="fk_pending_versions_document_id_documents"),
        sa.PrimaryKeyConstraint("job_id", name="pk_pending_versions"),
    )
    op.create_index("ix_pending_versions_document_id", "pending_versions", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_versions_document_id", table_name="pending_versions")
    op.drop_table("pending_versions")
    op.drop_column("jobs", "chunks_embedded")
    op.drop_column("jobs", "chunks_reused")
    op.drop_column("jobs", "version")
    op.drop_constraint("uq_documents_tenant_id_external_id", "documents", type_="unique")
    op.drop_column("documents", "external_id")
    op.drop_column("documents", "version")
