"""Helpers of the job-queue and worker tests: a database handle with uploads and row reads,
Markdown documents of N sections, and embedders that block or fail on cue.

Workers commit from several connections (threads, subprocesses), so each test gets its own
database copy (`fresh_database_url`) rather than the rolled-back `db_session`; the `db`
fixture of tests/pipelines/conftest.py wraps one in a `QueueDb`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ingest.corpus import ChunkRow, Document
from ingest.types import Limits
from pipelines import ingestion
from pipelines.ingestion import Job
from tests.support.fake_embedder import HashEmbedder

ROOT = Path(__file__).parents[2]
NOTE = (ROOT / "samples" / "note.md").read_bytes()


@dataclass(frozen=True)
class QueueDb:
    """An isolated migrated database: its URL (for subprocesses) and a session factory."""

    url: str
    sessions: sessionmaker[Session]

    def submit(self, data: bytes = NOTE, tenant: str = "acme") -> Job:
        """Upload `data` as a document and return its queued job."""
        with self.sessions() as session:
            sub = ingestion.submit_document(
                session,
                tenant=tenant,
                collection="default",
                filename="doc.md",
                data=data,
                metadata={},
                limits=Limits(),
            )
        assert sub.job is not None
        return sub.job

    def job(self, job_id: uuid.UUID) -> Job:
        """The job row as it is now."""
        with self.sessions() as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job

    def document(self, job: Job) -> Document | None:
        """The job's document as it is now (None once deleted)."""
        with self.sessions() as session:
            return session.get(Document, job.document_id)

    def chunk_stats(self, document_id: uuid.UUID) -> tuple[int, int]:
        """(chunk rows, distinct ordinals) of a document: equal means no duplicates."""
        with self.sessions() as session:
            row = session.execute(
                select(func.count(), func.count(func.distinct(ChunkRow.ordinal))).where(
                    ChunkRow.document_id == document_id
                )
            ).one()
        return int(row[0]), int(row[1])


def markdown_doc(sections: int, tag: str = "") -> bytes:
    """A Markdown handbook with `sections` sections (about one chunk each), unique per `tag`."""
    parts = [f"# Handbook {tag}\n"]
    for i in range(sections):
        parts.append(f"## Section {i} {tag}\n\n" + f"Rule {i} says the team keeps record {i}. " * 8)
    return "\n".join(parts).encode()


class GateEmbedder(HashEmbedder):
    """Blocks inside `embed` until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.gate = threading.Event(), threading.Event()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.entered.set()
        assert self.gate.wait(30), "test never opened the gate"
        return super().embed(texts)


class FlakyEmbedder(HashEmbedder):
    """Raises on its first `failures` calls, then works."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("model fell over")
        return super().embed(texts)
