"""One measured run of each side of `bench.ingest`, and the round-robin that interleaves them.

- the pipeline side: `run_pipeline` submits a document and times one `Worker.run_once()` on it
  (claim to commit), keeping the stage timings (`CapturingWorker`) and the time page images
  took to render (`TimedOcr`), then deletes it;
- the raw side: the same work done by the raw engines alone (`raw_embed`: the embedder on the
  pipeline's chunks; `raw_tesseract`: the Tesseract CLI on the rendered pages; `engine_pool`:
  `TesseractOcr.read` through the OCR pool on pre-rendered images);
- `interleave`: a round's steps in alternating order, so drifting load hits both sides alike.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bench.timing import CpuMeter, timed
from ingest.corpus import Document
from ingest.embedding import Embedder
from ingest.ocr import UPRIGHT_CONFIDENCE, OcrPage
from ingest.ocr_pool import OcrPool, PageOcr
from ingest.pipeline import IngestContext, IngestResult, KnownVectors
from ingest.types import Chunk
from pipelines import ingestion
from pipelines.ingestion import Job
from pipelines.ingestion.queue import Claimed
from pipelines.ingestion.worker import Worker, _Lease

TENANT = "bench-ingest"


class TimedOcr:
    """A `PageOcr` that passes pages to another one and times how long each page image took to
    be produced (rendering happens lazily in `read_pages`, pulled by the OCR runner)."""

    def __init__(self, inner: PageOcr) -> None:
        self.inner = inner
        self.render_seconds = 0.0

    def map(self, images: Iterable[Image.Image]) -> Iterator[OcrPage]:
        """See `PageOcr.map`."""

        def timed_images() -> Iterator[Image.Image]:
            source = iter(images)
            while True:
                started = time.perf_counter()
                image = next(source, None)
                self.render_seconds += time.perf_counter() - started
                if image is None:
                    return
                yield image

        return self.inner.map(timed_images())


class CapturingWorker(Worker):
    """A `Worker` that keeps the `IngestResult` (with stage timings) of the job it ran."""

    captured: IngestResult | None = None

    def _ingest(self, job: Claimed, data: bytes, filename: str, known: KnownVectors,
                lease: _Lease) -> IngestResult:
        self.captured = super()._ingest(job, data, filename, known, lease)
        return self.captured


@dataclass
class PipelineRun:
    """One document through `Worker.run_once`: wall and CPU seconds, stage seconds, output."""

    wall: float
    cpu: float
    pages: int
    ocr_pages: int
    chunks: list[Chunk]
    stages: dict[str, float]
    load_1m: float


def run_pipeline(
    sessions: sessionmaker[Session], ctx: IngestContext, data: bytes, filename: str,
    meter: CpuMeter,
) -> PipelineRun:
    """Submit `data`, run one worker job on it, check it succeeded, delete it.

    Timed from the claim to the commit (`Worker.run_once`).
    """
    assert ctx.ocr is not None
    timed_ocr = TimedOcr(ctx.ocr)
    worker = CapturingWorker(sessions, replace(ctx, ocr=timed_ocr), lease_seconds=120.0,
                             poll_interval=0.05)
    with sessions() as session:
        submission = ingestion.submit_document(
            session, tenant=TENANT, collection=f"run-{uuid.uuid4().hex[:8]}", filename=filename,
            data=data, metadata={}, limits=ctx.limits,
        )
        assert submission.job is not None
        job_id, document_id = submission.job.id, submission.document.id
    load = os.getloadavg()[0]
    with timed(meter) as took:
        ran = worker.run_once()
    result = worker.captured
    with sessions() as session:
        job = ingestion.get_job(session, tenant=TENANT, job_id=job_id)
        status, error = job.status, job.error
        ingestion.delete_document(session, tenant=TENANT, document_id=document_id)
    if not ran or result is None or status != "succeeded":
        raise RuntimeError(f"ingest job did not succeed: {status} {error}")
    stages = dict(result.timings)
    # "ocr" in the pipeline's timings is the wall time from the first page handed to OCR to the
    # last page read; rendering happens inside it, in this process, overlapping the workers.
    stages["render"] = timed_ocr.render_seconds
    return PipelineRun(took.wall, took.cpu, len(result.pages), result.ocr_pages,
                       list(result.chunks), stages, round(load, 2))


def purge(sessions: sessionmaker[Session]) -> None:
    """Remove what an interrupted earlier run of this benchmark left behind."""
    with sessions() as session:
        session.execute(delete(Job).where(Job.tenant_id == TENANT))
        session.execute(delete(Document).where(Document.tenant_id == TENANT))
        session.commit()


@dataclass
class RawRun:
    """A raw-engine run: wall and CPU seconds over `units` items (chunks or pages)."""

    wall: float
    cpu: float
    units: int
    load_1m: float
    extra: dict[str, Any] = field(default_factory=dict)


def raw_embed(embedder: Embedder, chunks: Sequence[Chunk], batch: int, meter: CpuMeter) -> RawRun:
    """The embedder alone on the pipeline's chunks, batch by batch as the pipeline does."""
    texts = [chunk.embed_text for chunk in chunks]
    load = os.getloadavg()[0]
    with timed(meter) as took:
        for part in chunked(texts, batch):
            embedder.embed(list(part))
    return RawRun(took.wall, took.cpu, len(texts), round(load, 2))


def raw_tesseract(paths: Sequence[Path], dpi: int, processes: int, meter: CpuMeter) -> RawRun:
    """`tesseract <page> stdout --psm 3 tsv` on every page, `processes` at a time."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(path: Path) -> int:
        done = subprocess.run(
            ["tesseract", str(path), "stdout", "--dpi", str(dpi), "--psm", "3", "-l", "eng",
             "tsv"], capture_output=True, env=env, check=True)
        return done.stdout.count(b"\n")

    load = os.getloadavg()[0]
    with timed(meter) as took, ThreadPoolExecutor(processes) as threads:
        rows = list(threads.map(one, paths))
    return RawRun(took.wall, took.cpu, len(paths), round(load, 2), {"tsv_rows": sum(rows)})


def engine_pool(pool: OcrPool, images: Sequence[Image.Image], meter: CpuMeter) -> RawRun:
    """`TesseractOcr.read` through the OCR pool on pre-rendered images: no PDF, no pipeline."""
    load = os.getloadavg()[0]
    with timed(meter) as took:
        pages = list(pool.map(images))
    passes = {
        "psm": [p.psm for p in pages],
        "rotation": [p.rotation for p in pages],
        "mean_confidence": [p.mean_confidence for p in pages],
        "osd_checked": sum(p.mean_confidence < UPRIGHT_CONFIDENCE for p in pages),
    }
    return RawRun(took.wall, took.cpu, len(pages), round(load, 2), passes)


def interleave(round_no: int, steps: Sequence[Callable[[], None]]) -> None:
    """Run the round's steps, reversing their order every other round (load drifts)."""
    for step in steps if round_no % 2 == 0 else list(reversed(steps)):
        step()


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
