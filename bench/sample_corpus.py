"""The shared sample corpus through the real job path: what happens to each real document.

    .venv/bin/python -m bench.sample_corpus                     # pdf-samples and FinanceBench
    .venv/bin/python -m bench.sample_corpus --sets pdf-samples  # one set only

Every file of `pdf-samples` (odd but real PDFs and TIFFs; LICENSE, SOURCE.md and files.json
skipped) and of `financebench-dev/pdfs` (24 SEC filings) is uploaded with `submit_document`
into the benchmark PostgreSQL and run by one `Worker.run_once()`: sniff, text layer or
Tesseract through an `OcrPool` of 2 processes, cleanup, chunking, all-MiniLM-L6-v2, storing.
For each file it records how the job ended (`ready`, or the error code it failed with), its
pages (by the text layer, by OCR, failed), chunks, characters removed to make the text
storable, page warnings, and seconds from claim to commit with the stages' share. A code
outside the documented content errors (`internal_error`, `ocr_failed`, ...) is a bug, and is
listed as such. `tests/pipelines/ingestion/test_sample_corpus.py` runs a cheaper subset in
`make test`. Results: `bench/results/sample_corpus.json`.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bench.common import (
    bench_database,
    format_table,
    load_embedder,
    shared_data_dir,
    write_results,
)
from ingest.corpus import Document
from ingest.errors import IngestError
from ingest.ocr_pool import OcrPool
from ingest.pipeline import IngestContext
from ingest.types import Limits
from pipelines import ingestion
from pipelines.ingestion import Job, Worker

TENANT = "bench-corpus"
DATABASE = "lectern_bench_corpus"
SETS = {"pdf-samples": Path("pdf-samples"), "financebench": Path("financebench-dev/pdfs")}
NOT_DOCUMENTS = frozenset({"LICENSE", "SOURCE.md", "files.json"})
TYPED_FAILURES = frozenset({"encrypted_document", "corrupt_document", "no_readable_text",
                            "too_many_pages", "image_too_large", "unsupported_file_type",
                            "empty_file", "file_too_large"})


def corpus_files(root: Path, sets: list[str]) -> list[Path]:
    """The documents of the chosen sets under the shared data `root`, in name order."""
    files: list[Path] = []
    for name in sets:
        folder = root / SETS[name]
        if not folder.is_dir():
            raise SystemExit(f"{folder} not found: set LECTERN_SHARED_DATA to the shared data")
        files += sorted(p for p in folder.iterdir() if p.name not in NOT_DOCUMENTS)
    return files


def ingest_one(sessions: sessionmaker[Session], worker: Worker, path: Path) -> dict[str, Any]:
    """Upload and run one file; what became of it."""
    row: dict[str, Any] = {"file": path.name, "bytes": path.stat().st_size}
    started = time.perf_counter()
    try:
        with sessions() as session:
            job = ingestion.submit_document(
                session, tenant=TENANT, collection="corpus", filename=path.name,
                data=path.read_bytes(), metadata={}, limits=Limits()).job
    except IngestError as exc:
        return {**row, "outcome": exc.code, "message": exc.message, "at": "upload"}
    assert job is not None
    worker.run_once()
    with sessions() as session:
        done = session.get(Job, job.id)
        document = session.get(Document, job.document_id)
        assert done is not None and document is not None
        if done.status != "succeeded":
            error = done.error or {}
            return {**row, "outcome": error.get("code", done.status),
                    "message": error.get("message"), "attempts": done.attempts,
                    "seconds": round(time.perf_counter() - started, 2)}
        log = document.processing_log or {}
        return {**row, "outcome": "ready", "pages": document.page_count,
                "by_method": log.get("pages"), "chunks": document.chunk_count,
                "chars_removed": log.get("chars_removed"),
                "ocr_mean_confidence": log.get("ocr_mean_confidence"),
                "warnings": document.warnings, "stage_seconds": log.get("stage_seconds"),
                "seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=sorted(SETS))
    parser.add_argument("--ocr-workers", type=int, default=2)
    args = parser.parse_args()
    files = corpus_files(shared_data_dir(), args.sets)
    rows: list[dict[str, Any]] = []
    with bench_database(DATABASE) as url, OcrPool(args.ocr_workers) as pool:
        from app.db.engine import make_engine, session_factory

        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions() as session:  # a fresh run: no document is deduplicated away
            session.execute(delete(Document).where(Document.tenant_id == TENANT))
            session.commit()
        worker = Worker(sessions, IngestContext(embedder=load_embedder(), ocr=pool))
        started = time.perf_counter()
        for path in files:
            rows.append(ingest_one(sessions, worker, path))
            print(f"{rows[-1]['outcome']:<22} {rows[-1].get('seconds', 0):7.2f}s  {path.name}")
        total = time.perf_counter() - started
        engine.dispose()
    outcomes = Counter(row["outcome"] for row in rows)
    bugs = [row["file"] for row in rows if row["outcome"] not in TYPED_FAILURES | {"ready"}]
    print()
    print(format_table(["outcome", "files"], sorted(outcomes.items())))
    print(f"\n{len(rows)} files in {total:.0f}s; untyped failures: {bugs or 'none'}")
    path = write_results("sample_corpus", {"sets": args.sets, "seconds": round(total, 1),
                                           "outcomes": dict(outcomes), "untyped_failures": bugs,
                                           "files": rows})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
