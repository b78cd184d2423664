"""The ingestion use case on real PostgreSQL: submit, dedup, races, tenant checks, delete, wait."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db.engine import make_engine, session_factory
from ingest import store
from ingest.corpus import Document, DocumentFile
from ingest.errors import EmptyFile, FileTooLarge, InvalidMetadata, UnsupportedFileType
from ingest.types import Limits, Sniffed
from pipelines import ingestion
from pipelines.errors import DocumentNotFound, JobNotFound, JobWaitTimeout
from pipelines.ingestion import Job
from pipelines.ingestion import queue as job_queue
from tests.support.database import DatabaseFactory

NOTE = (Path(__file__).parents[3] / "samples" / "note.md").read_bytes()
LIMITS = Limits()


@pytest.fixture
def sessions(fresh_database_url: DatabaseFactory) -> Iterator[sessionmaker[Session]]:
    """Sessions on an isolated database (these tests commit and use several connections)."""
    engine = make_engine(fresh_database_url())
    yield session_factory(engine)
    engine.dispose()


def _submit(
    session: Session, data: bytes = NOTE, *, tenant: str = "acme", collection: str = "default"
) -> ingestion.Submission:
    return ingestion.submit_document(
        session,
        tenant=tenant,
        collection=collection,
        filename="note.md",
        data=data,
        metadata={"team": "ops"},
        limits=LIMITS,
    )


def _count(session: Session, table: type[Document] | type[Job] | type[DocumentFile]) -> int:
    return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_submit_stores_document_file_and_queued_job(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        sub = _submit(session)
    assert sub.created and sub.job is not None
    assert (sub.document.status, sub.document.kind, sub.document.metadata_) == (
        "processing",
        "markdown",
        {"team": "ops"},
    )
    assert (sub.job.status, sub.job.attempts, sub.job.document_id) == ("queued", 0, sub.document.id)
    with sessions() as other:  # committed: a worker's session sees it
        assert store.load_file(other, tenant="acme", document_id=sub.document.id) == NOTE
        assert ingestion.get_job(other, tenant="acme", job_id=sub.job.id).status == "queued"


def test_same_bytes_dedup_per_tenant_and_collection(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        first = _submit(session)
        again = _submit(session)
        other_collection = _submit(session, collection="archive")
        other_tenant = _submit(session, tenant="globex")
        assert not again.created and again.job is None
        assert again.document.id == first.document.id
        assert other_collection.created and other_tenant.created
        assert _count(session, Job) == 3 and _count(session, Document) == 3


@pytest.mark.parametrize(
    ("data", "limits", "error"),
    [
        (b"", LIMITS, EmptyFile),
        (bytes(range(256)) * 8, LIMITS, UnsupportedFileType),
        (NOTE, Limits(max_bytes=100), FileTooLarge),
    ],
)
def test_bad_uploads_raise_4xx_and_store_nothing(
    sessions: sessionmaker[Session], data: bytes, limits: Limits, error: type[Exception]
) -> None:
    with sessions() as session:
        with pytest.raises(error) as caught:
            ingestion.submit_document(
                session,
                tenant="acme",
                collection="default",
                filename="x.md",
                data=data,
                metadata={},
                limits=limits,
            )
        assert 400 <= caught.value.http_status < 500  # type: ignore[attr-defined]
        assert (
            _count(session, Document) == _count(session, DocumentFile) == _count(session, Job) == 0
        )


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "metadata",
    [{"a": float("nan")}, {"a": {"b": "x\x00"}}, {"\ud800": 1}, _nested(40)],
    ids=["nan", "nul", "surrogate", "depth-40"],
)
def test_metadata_that_could_not_be_served_back_is_refused_before_storing(
    sessions: sessionmaker[Session], metadata: dict[str, object]
) -> None:
    """The use case guards what it stores itself: the CLI and other callers skip the API."""
    with sessions() as session:
        with pytest.raises(InvalidMetadata, match="metadata"):
            ingestion.submit_document(session, tenant="acme", collection="default",
                                      filename="x.md", data=NOTE, metadata=metadata,
                                      limits=LIMITS)
        assert _count(session, Document) == _count(session, Job) == 0


def test_resubmitting_a_failed_document_requeues_it(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        first = _submit(session)
        assert first.job is not None
        error = {"code": "internal_error", "message": "boom", "details": {}}
        store.mark_failed(session, tenant="acme", document_id=first.document.id, error=error)
        session.execute(update(Job).where(Job.id == first.job.id).values(status="failed"))
        session.commit()
        again = _submit(session)
        assert again.created and again.job is not None and again.job.id != first.job.id
        assert again.document.id == first.document.id
        assert (again.document.status, again.document.error) == ("processing", None)
        assert again.job.status == "queued" and _count(session, Job) == 2


def test_concurrent_identical_uploads_make_one_document(sessions: sessionmaker[Session]) -> None:
    """The second upload blocks on the unique index, loses, and returns the winner's document."""
    winner = sessions()
    doc = store.insert_document(
        winner,
        tenant="acme",
        collection="default",
        filename="note.md",
        sniffed=Sniffed(kind="markdown", mime="text/markdown"),
        data=NOTE,
        sha256=hashlib.sha256(NOTE).hexdigest(),
        metadata={},
    )  # uncommitted: the racing upload cannot see it yet
    result: list[ingestion.Submission] = []
    racer = threading.Thread(target=lambda: result.append(_submit(sessions())))
    racer.start()
    racer.join(1.0)
    assert racer.is_alive(), "the racing insert should wait for the first transaction"
    winner.commit()
    racer.join(10)
    assert result and not result[0].created and result[0].document.id == doc.id
    with sessions() as session:
        assert _count(session, Document) == 1 and _count(session, Job) == 0
    winner.close()


def test_other_tenants_get_404_everywhere(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        sub = _submit(session, tenant="a")
        assert sub.job is not None
        doc_id, job_id = sub.document.id, sub.job.id
        with pytest.raises(DocumentNotFound) as missing:
            ingestion.get_document(session, tenant="b", document_id=doc_id)
        assert missing.value.http_status == 404
        for call in (ingestion.list_chunks, ingestion.list_pages, ingestion.delete_document):
            with pytest.raises(DocumentNotFound):
                call(session, tenant="b", document_id=doc_id)
        with pytest.raises(JobNotFound):
            ingestion.get_job(session, tenant="b", job_id=job_id)
        assert ingestion.list_documents(session, tenant="b").total == 0
        assert ingestion.list_jobs(session, tenant="b").total == 0
        assert ingestion.get_document(session, tenant="a", document_id=doc_id).id == doc_id
        jobs = ingestion.list_jobs(session, tenant="a")
        assert ([j.id for j in jobs.rows], jobs.total) == ([job_id], 1)


def test_delete_removes_document_file_and_jobs(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        sub = _submit(session)
        ingestion.delete_document(session, tenant="acme", document_id=sub.document.id)
    with sessions() as session:
        assert (
            _count(session, Document) == _count(session, DocumentFile) == _count(session, Job) == 0
        )
        with pytest.raises(DocumentNotFound):
            ingestion.delete_document(session, tenant="acme", document_id=sub.document.id)


def test_wait_for_job_reports_changes_and_times_out(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        sub = _submit(session)
    assert sub.job is not None
    job_id = sub.job.id
    seen: list[str] = []
    with pytest.raises(JobWaitTimeout):
        ingestion.wait_for_job(
            sessions,
            tenant="acme",
            job_id=sub.job.id,
            timeout_s=0.3,
            poll_s=0.05,
            on_progress=lambda job: seen.append(job.status),
        )
    assert seen == ["queued"]  # reported once, not on every poll

    def finish_later() -> None:
        with sessions() as session:
            session.execute(update(Job).where(Job.id == job_id).values(status="succeeded"))
            session.commit()

    timer = threading.Timer(0.3, finish_later)
    timer.start()
    job = ingestion.wait_for_job(
        sessions,
        tenant="acme",
        job_id=sub.job.id,
        timeout_s=10,
        poll_s=0.05,
        on_progress=lambda job: seen.append(job.status),
    )
    timer.join()
    assert job.status == "succeeded" and seen[-1] == "succeeded"
    with pytest.raises(JobNotFound):
        ingestion.wait_for_job(sessions, tenant="other", job_id=sub.job.id, timeout_s=1)
    with pytest.raises(JobNotFound):
        ingestion.wait_for_job(sessions, tenant="acme", job_id=uuid.uuid4(), timeout_s=1)


def _claimed_at_commit(session: Session, sessions: sessionmaker[Session]) -> list[str]:
    """Make each commit of `session` be followed at once by a worker claiming every queued job
    (what a worker woken by the commit's notification may do before the submitter reads)."""
    claimed: list[str] = []

    def claim(_: Session) -> None:
        with sessions() as other:
            while job := job_queue.claim(other, worker_id="quick", lease_seconds=30):
                claimed.append(str(job.id))
            while extraction := ingestion.claim_extract(other, worker_id="quick",
                                                        lease_seconds=30):
                claimed.append(str(extraction.job.id))

    event.listen(session, "after_commit", claim)
    return claimed


def test_a_new_document_reads_queued_though_a_worker_claims_it_at_once(
        sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        claimed = _claimed_at_commit(session, sessions)
        sub = _submit(session)
    assert sub.job is not None and claimed == [str(sub.job.id)]
    assert sub.job.status == "queued" and sub.job.worker_id is None


def test_a_new_extraction_job_reads_queued_though_a_worker_claims_it_at_once(
        sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        claimed = _claimed_at_commit(session, sessions)
        job = ingestion.submit_extract_job(session, tenant="acme", request={"schema": "x"},
                                           total=1)
    assert claimed == [str(job.id)]
    assert job.status == "queued" and job.worker_id is None
