"""Real documents never break lectern, through the real worker and PostgreSQL: text with
U+0000 is stored cleaned and counted, a page that fails is recorded while the rest is
ingested, and every finished job reaches the observer with its processing log."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from ingest.corpus import ChunkRow, Page
from ingest.ocr_pool import SerialOcr
from ingest.pipeline import IngestContext
from ingest.processing_log import ProcessingLog
from ingest.types import Limits
from pipelines import ingestion
from pipelines.ingestion import Worker
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import QueueDb
from tests.support.odd_pdfs import EngineRaisingOn, picture_pdf, raw_text_pdf


@dataclass
class Observer:
    """An `IngestObserver` that keeps what it is told."""

    finished: list[tuple[str, str | None, ProcessingLog | None]] = field(default_factory=list)

    def job_finished(self, *, status: str, code: str | None, log: ProcessingLog | None) -> None:
        self.finished.append((status, code, log))


def _worker(db: QueueDb, observer: Observer, fail_from_width: int = 10**6) -> Worker:
    ocr = SerialOcr(EngineRaisingOn(min_width=fail_from_width))
    return Worker(db.sessions, IngestContext(embedder=HashEmbedder(), ocr=ocr),
                  observer=observer)


def _rows(db: QueueDb, table: type[Page] | type[ChunkRow]) -> list[str]:
    with db.sessions() as session:
        rows = session.scalars(select(table)).all()
    return [row.text for row in rows] + [r.raw_text for r in rows if isinstance(r, Page)]


def test_a_text_layer_with_nul_ingests_and_the_removal_is_counted(db: QueueDb) -> None:
    data = raw_text_pdf(b"FORM 10-Q \\000 Quarterly report \\000 pursuant to Section 13",
                        b"Indicate by check mark \\001 whether the registrant filed all reports")
    job = db.submit(data)
    observer = Observer()
    assert _worker(db, observer).run_once()
    done, document = db.job(job.id), db.document(job)
    assert done.status == "succeeded", done.error
    assert document is not None and document.status == "ready"
    assert document.processing_log is not None
    assert document.processing_log["chars_removed"] == 3
    stored = _rows(db, Page) + _rows(db, ChunkRow)
    assert any("Quarterly report" in text for text in stored)
    assert not any(ch in text for text in stored for ch in "\x00\x01")
    ((status, code, log),) = observer.finished
    assert (status, code) == ("succeeded", None) and log is not None and log.chars_removed == 3


def test_a_page_that_fails_ocr_is_recorded_and_the_rest_ingested(db: QueueDb) -> None:
    job = db.submit(picture_pdf([200, 400, 200]))  # page 2 renders over 1000 pixels wide
    observer = Observer()
    assert _worker(db, observer, fail_from_width=1000).run_once()
    done, document = db.job(job.id), db.document(job)
    assert done.status == "succeeded", done.error
    assert document is not None and (document.status, document.page_count) == ("ready", 3)
    (warning,) = document.warnings
    assert (warning["page"], warning["code"], warning["failed"]) == (2, "ocr_failed", True)
    assert warning["message"] == "the engine choked on this page"
    with db.sessions() as session:
        pages = session.scalars(select(Page).order_by(Page.page_no)).all()
        chunk_pages = set(session.execute(select(ChunkRow.page_start, ChunkRow.page_end)))
    assert [(p.page_no, bool(p.text), p.error is None) for p in pages] == [
        (1, True, True), (2, False, False), (3, True, True)]
    assert pages[1].error is not None and pages[1].error["code"] == "ocr_failed"
    assert all(2 not in span for span in chunk_pages)
    log = document.processing_log
    assert log is not None and log["pages"] == {"text": 0, "ocr": 2, "failed": 1}
    assert (log["ocr_mean_confidence"], log["warnings"]) == (91.0, 1)
    assert set(log["stage_seconds"]) == {"reading", "ocr", "cleanup", "chunking", "embedding",
                                         "storing"}
    ((status, _code, observed),) = observer.finished
    assert status == "succeeded" and observed is not None and observed.pages_failed == 1


def test_a_document_whose_every_page_fails_fails_and_is_reported(db: QueueDb) -> None:
    job = db.submit(picture_pdf([400, 400]))
    observer = Observer()
    worker = _worker(db, observer, fail_from_width=0)
    for _ in range(3):  # OCR failures may be transient: retried up to max_attempts
        assert worker.run_once()
    done, document = db.job(job.id), db.document(job)
    assert done.status == "failed" and done.error is not None
    assert done.error["code"] == "ocr_failed" and done.attempts == 3
    assert document is not None and document.status == "failed"
    assert observer.finished == [("failed", "ocr_failed", None)]


def test_a_file_name_with_control_characters_is_stored_without_them(db: QueueDb) -> None:
    with db.sessions() as session:
        submission = ingestion.submit_document(
            session, tenant="acme", collection="default", filename="q3\x00report\x07.md",
            data=b"# Q3\n\nRevenue grew.\n", metadata={}, limits=Limits())
    assert submission.document.filename == "q3report.md"
