"""Real documents never break lectern: the shared sample corpus through the real job path.

Every file of `pdf-samples` (odd but real PDFs and TIFFs) and four FinanceBench filings go
through `submit_document` and a real `Worker` (sniff, text layer or Tesseract in an `OcrPool`,
cleanup, chunking, all-MiniLM-L6-v2, PostgreSQL). Each one must end `ready` with text, or
`failed` with a documented content error code: never `internal_error`, `ocr_failed` or an
exception. `python -m bench.sample_corpus` runs every file of both sets (all 24 filings) and
writes what happened to each to `bench/results/sample_corpus.json`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.common import shared_data_dir
from ingest.corpus import Page
from ingest.errors import IngestError
from ingest.ocr_pool import OcrPool
from ingest.pipeline import IngestContext
from ingest.types import Limits
from pipelines import ingestion
from pipelines.ingestion import Worker
from tests.ingest.test_embedding import load_real_embedder
from tests.support.job_queue import QueueDb

pytestmark = pytest.mark.slow

NOT_DOCUMENTS = frozenset({"LICENSE", "SOURCE.md", "files.json"})
# Small filings of each kind (8-K, earnings release, 10-Q); the 10-Ks are left to the bench.
FINANCEBENCH = ("PEPSICO_2023_8K_dated-2023-05-05.pdf", "FOOTLOCKER_2022_8K_dated-2022-05-20.pdf",
                "JOHNSON_JOHNSON_2022Q4_EARNINGS.pdf", "AMCOR_2023Q2_10Q.pdf")
UNREADABLE = {
    "005-libreoffice-writer-password_libreoffice-writer-password.pdf": "encrypted_document",
    "017-unreadable-meta-data_unreadablemetadata.pdf": "corrupt_document",  # pdfium fails too
}
# Pictures without a letter in them (a smiley, a cartoon, 4-pixel images): no text to find,
# unless Tesseract reads a letter into the picture.
PICTURES = frozenset({
    "007-imagemagick-images_imagemagick-ASCII85Decode.pdf",
    "007-imagemagick-images_imagemagick-CCITTFaxDecode.pdf",
    "007-imagemagick-images_imagemagick-lzw.pdf",
    "007-imagemagick-images_smile-deflate.tiff",
    "007-imagemagick-images_smile-lzw.tiff",
    "007-imagemagick-images_smile-pack-bits.tiff",
    "007-imagemagick-images_smile.tiff",
    "019-grayscale-image_grayscale-image.pdf",
})


def corpus() -> list[Path]:
    """The corpus files, or a skip naming where they were looked for."""
    root = shared_data_dir()
    samples, filings = root / "pdf-samples", root / "financebench-dev" / "pdfs"
    if not samples.is_dir() or not filings.is_dir():
        pytest.skip(f"no shared data at {root}: set LECTERN_SHARED_DATA to the directory "
                    "holding pdf-samples/ and financebench-dev/pdfs/")
    files = sorted(p for p in samples.iterdir() if p.name not in NOT_DOCUMENTS)
    return files + [filings / name for name in FINANCEBENCH]


@pytest.fixture(scope="module")
def ocr_pool() -> Iterator[OcrPool]:
    with OcrPool(workers=2) as pool:
        yield pool


def _outcome(db: QueueDb, worker: Worker, path: Path) -> str | None:
    """None when the file ended `ready` with text, else the error code it ended with."""
    try:
        with db.sessions() as session:
            job = ingestion.submit_document(
                session, tenant="acme", collection="default", filename=path.name,
                data=path.read_bytes(), metadata={}, limits=Limits()).job
    except IngestError as exc:  # refused at upload, before any job
        return exc.code
    assert job is not None and worker.run_once()
    done, document = db.job(job.id), db.document(job)
    assert document is not None and done.status in ingestion.TERMINAL_STATUSES, done.error
    if done.status == "failed":
        assert done.error is not None and document.status == "failed"
        return str(done.error["code"])
    assert document.status == "ready" and document.chunk_count and document.page_count
    assert document.processing_log is not None
    with db.sessions() as session:
        pages = session.scalars(select(Page).where(Page.document_id == document.id)).all()
    assert len(pages) == document.page_count and any(page.text.strip() for page in pages)
    return None


def test_every_sample_document_ingests_or_fails_typed(db: QueueDb, ocr_pool: OcrPool) -> None:
    context = IngestContext(embedder=load_real_embedder(), ocr=ocr_pool)
    worker = Worker(db.sessions, context)
    outcomes = {path.name: _outcome(db, worker, path) for path in corpus()}
    failed = {name: code for name, code in outcomes.items() if code is not None}
    for name, code in UNREADABLE.items():
        assert failed.pop(name) == code
    assert set(failed) <= PICTURES, failed
    assert set(failed.values()) <= {"no_readable_text"}, failed
