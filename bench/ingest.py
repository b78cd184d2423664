"""Ingestion throughput: pages/min for digital and scanned PDFs against their raw engines.

    .venv/bin/python -m bench.ingest                    # 10-page documents, 3 rounds
    .venv/bin/python -m bench.ingest --pages 20 --rounds 5
    .venv/bin/python -m bench.ingest --only scanned --proposed --omp-passive

Two synthetic letter-size reports are generated at run time (`bench._support`): a digital one
with a text layer (headings, paragraphs, tables, ~360 words a page) and the same pages as an
image-only scan (200 dpi JPEG, tilted, noisy). Each is ingested through the real path a job
takes: `submit_document` into the benchmark PostgreSQL, then one `Worker.run_once()` (claim,
sniff, text layer or render + OCR through an `OcrPool` of 2 processes, cleanup, chunking,
embedding with all-MiniLM-L6-v2, storing, progress writes), timed from the claim to the commit.

In the same run, interleaved round by round with the pipeline so that both sides see the same
machine load, the raw engines do the same work:
- digital: `SentenceTransformerEmbedder.embed` on exactly the chunks the pipeline produced, in
  batches of the pipeline's `embed_batch`; the ratio is in chunks/s (same chunks, so tokens/s
  gives the same ratio). Issue target: pipeline ≥ 0.9× raw.
- scanned: the plain `tesseract` command (psm 3, TSV, `OMP_THREAD_LIMIT=1`), two processes at a
  time, on the very page images the pipeline renders; issue target: pipeline ≥ 0.85× raw. Also
  `TesseractOcr.read` through the `OcrPool` on pre-rendered images (the engine's extra passes
  without rendering or the rest of the pipeline), which splits the gap into "engine" and
  "pipeline".

Wall time on a shared 2-core machine is noisy, so every figure also has its CPU seconds (this
process and its descendants, Tesseract included), and ratios are per round, reported as median
and range. Results: `bench/results/ingest.json`.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bench._support import (
    CpuMeter,
    chunked,
    code_versions,
    load_line,
    machine_load,
    ratio_summary,
    scanned_copy,
    synthetic_report,
    timed,
)
from bench.common import bench_database, format_table, load_embedder, write_results
from ingest.corpus import Document
from ingest.embedding import Embedder
from ingest.ocr import UPRIGHT_CONFIDENCE, OcrPage
from ingest.ocr_pool import OcrPool, PageOcr, PageTask, worker_engine
from ingest.pipeline import IngestContext, IngestResult
from ingest.textlayer import open_pdf, render_page
from ingest.types import Chunk, Limits
from pipelines import ingestion
from pipelines.ingestion import Job
from pipelines.ingestion.queue import Claimed
from pipelines.ingestion.worker import Worker, _Lease

TENANT = "bench-ingest"
DATABASE = "lectern_bench_ingest"
DIGITAL_TARGET = 0.9
SCANNED_TARGET = 0.85
CODE_UNDER_TEST = ("ingest/ocr.py", "ingest/ocr_pool.py", "ingest/images.py",
                   "ingest/read_pages.py", "ingest/textlayer.py", "ingest/pipeline.py",
                   "ingest/cleanup.py", "ingest/headings.py", "ingest/chunking.py",
                   "ingest/embedding.py", "ingest/store.py", "pipelines/ingestion/worker.py",
                   "pipelines/ingestion/queue.py")
STAGE_ORDER = ("reading", "render", "ocr", "cleanup", "chunking", "embedding", "storing")


# --------------------------------------------------------------------------- the pipeline side


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

    def _ingest(self, job: Claimed, data: bytes, filename: str, lease: _Lease) -> IngestResult:
        self.captured = super()._ingest(job, data, filename, lease)
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


# --------------------------------------------------------------------------- proposed fixes
# A prototype of two changes proposed for `ingest/ocr.py` and `ingest/ocr_pool.py` (owned by
# others), measured with `--proposed`: the 3x3 median despeckle as a numpy sorting network
# (bit-identical to Pillow's MedianFilter(3), ~4x faster), and pages handed to the OCR
# workers as raw pixels instead of PNG (no encode in the parent, no decode in the worker).

_MEDIAN9_NETWORK = ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8),
                    (0, 3), (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4),
                    (4, 2))


def median3(gray: Image.Image) -> Image.Image:
    """3x3 median of an 'L' image, edges replicated (what Pillow's MedianFilter(3) gives)."""
    import numpy as np

    pixels = np.asarray(gray)
    padded = np.pad(pixels, 1, mode="edge")
    height, width = pixels.shape
    v = [padded[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)]
    for i, j in _MEDIAN9_NETWORK:
        v[i], v[j] = np.minimum(v[i], v[j]), np.maximum(v[i], v[j])
    out = Image.fromarray(np.ascontiguousarray(v[4]), mode="L")
    out.info.update(gray.info)
    return out


class FastDespeckleOcr:
    """`TesseractOcr` with the despeckle done by `median3` (picklable: module level)."""

    def __init__(self, dpi: int = 200) -> None:
        from ingest.ocr import TesseractOcr

        self.dpi = dpi
        self.inner = TesseractOcr(dpi=dpi, despeckle=False)

    def read(self, image: Image.Image) -> OcrPage:
        from ingest.ocr import DESPECKLE_MIN_DPI, _image_dpi

        gray = image.convert("L")
        gray.info.update(image.info)
        if _image_dpi(image, self.dpi) >= DESPECKLE_MIN_DPI:
            gray = median3(gray)
        return self.inner.read(gray)


def _read_raw(mode: str, size: tuple[int, int], info: dict[str, Any], data: bytes
              ) -> tuple[int, OcrPage]:
    """Worker task: rebuild the page from raw pixels and read it."""
    image = Image.frombytes(mode, size, data)
    image.info.update(info)
    return os.getpid(), worker_engine().read(image)


class RawPixelOcrPool(OcrPool):
    """`OcrPool` that hands pages to its workers as raw pixels (mode, size, bytes) rather than
    PNG; everything else, `map` included, is the real pool's."""

    def page_task(self, image: Image.Image) -> PageTask:
        """See `OcrPool.page_task`."""
        info = {"dpi": image.info["dpi"]} if "dpi" in image.info else {}
        return _read_raw, (image.mode, image.size, info, image.tobytes())


# --------------------------------------------------------------------------- the raw side


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


# --------------------------------------------------------------------------- reporting


def per_min(units: int, seconds: float) -> float:
    return units / seconds * 60 if seconds > 0 else float("nan")


def stage_table(runs: Sequence[PipelineRun]) -> tuple[str, dict[str, float]]:
    """Median seconds per stage over the runs, with what the stages don't cover as "other"."""
    medians = {name: statistics.median(r.stages.get(name, 0.0) for r in runs)
               for name in STAGE_ORDER}
    wall = statistics.median(r.wall for r in runs)
    covered = sum(v for k, v in medians.items() if k != "render")  # render is inside ocr
    medians["other (claim, sniff, progress writes)"] = max(0.0, wall - covered)
    rows = [(name, round(sec, 3), f"{100 * sec / wall:.1f}%") for name, sec in medians.items()]
    return format_table(("stage", "median s", "share of wall"), rows), medians


def summarise(name: str, pipeline: Sequence[PipelineRun], raws: dict[str, Sequence[RawRun]],
              unit: str, target: float, target_key: str) -> dict[str, Any]:
    """Print one document type's figures and return them for the JSON."""
    pages = pipeline[0].pages
    out: dict[str, Any] = {"pages": pages, "chunks": len(pipeline[0].chunks),
                           "ocr_pages": pipeline[0].ocr_pages}
    rows: list[tuple[Any, ...]] = []
    pipe_units = len(pipeline[0].chunks) if unit == "chunks" else pages
    series: list[tuple[str, Sequence[PipelineRun | RawRun], int]] = [
        ("pipeline", pipeline, pipe_units),
        *((label, runs, runs[0].units) for label, runs in raws.items()),
    ]
    for label, runs, units in series:
        walls = [r.wall for r in runs]
        cpus = [r.cpu for r in runs]
        out[label] = {
            "wall_s": [round(w, 3) for w in walls],
            "cpu_s": [round(c, 3) for c in cpus],
            "load_1m": [r.load_1m for r in runs],
            f"{unit}_per_s_median": round(units / statistics.median(walls), 3),
            "pages_per_min_median": round(per_min(pages, statistics.median(walls)), 2),
            "cpu_s_per_page_median": round(statistics.median(cpus) / pages, 3),
        }
        rows.append((label, round(statistics.median(walls), 3),
                     round(units / statistics.median(walls), 2),
                     round(per_min(pages, statistics.median(walls)), 1),
                     round(statistics.median(cpus) / pages, 3)))
    print(format_table(("run", "median wall s", f"{unit}/s", "pages/min", "CPU s/page"), rows))
    out["ratios"] = {}
    for label, runs in raws.items():
        wall = ratio_summary([r.wall / p.wall for r, p in zip(runs, pipeline, strict=True)])
        cpu = ratio_summary([r.cpu / p.cpu for r, p in zip(runs, pipeline, strict=True)])
        out["ratios"][label] = {"throughput": wall, "cpu_efficiency": cpu}
        verdict = ""
        if label == target_key:
            met = wall["median"] >= target
            verdict = f"  target ≥{target}×: {'MET' if met else 'MISSED'}"
        print(f"  pipeline ÷ {label} throughput ({unit}/s): {wall['median']}× "
              f"(rounds {wall['min']}–{wall['max']}); CPU-cost ratio {cpu['median']}×{verdict}")
    table, medians = stage_table(pipeline)
    print(table)
    out["stages_median_s"] = {k: round(v, 4) for k, v in medians.items()}
    out["target"] = {"against": target_key, "ratio": target,
                     "met": out["ratios"][target_key]["throughput"]["median"] >= target}
    print()
    return {name: out}


# --------------------------------------------------------------------------- scanned


def scanned_rounds(args: argparse.Namespace, scanned: bytes, sessions: sessionmaker[Session],
                   ctx: IngestContext, pool: OcrPool, embedder: Embedder, meter: CpuMeter,
                   tmp: Path, proposed: OcrPool | None) -> dict[str, Any]:
    """The scanned document against the Tesseract CLI, the engine via the pool, and the
    Tesseract CLI + raw embedder on the pipeline's own chunks; then where a page's time goes."""
    doc = open_pdf(scanned, ctx.limits)
    images = [render_page(scanned, i, args.dpi) for i in range(doc.page_count)]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp / f"page-{i + 1:03d}.png")
        image.save(paths[-1], format="PNG", dpi=image.info.get("dpi"))
    pipe: list[PipelineRun] = []
    cli: list[RawRun] = []
    eng: list[RawRun] = []
    emb: list[RawRun] = []
    fixed: list[PipelineRun] = []
    fixed_ctx = replace(ctx, ocr=proposed) if proposed is not None else None
    if proposed is not None:  # start its workers before anything is timed
        list(proposed.map(images[:1]))
    for n in range(args.rounds):
        # Round 0 runs the pipeline first, so the raw embedder always has its chunks.
        steps = [
            lambda: pipe.append(run_pipeline(sessions, ctx, scanned, "scanned.pdf", meter)),
            lambda: cli.append(raw_tesseract(paths, args.dpi, args.ocr_workers, meter)),
            lambda: eng.append(engine_pool(pool, images, meter)),
            lambda: emb.append(raw_embed(embedder, pipe[0].chunks, ctx.embed_batch, meter)),
        ]
        if fixed_ctx is not None:
            steps.append(lambda: fixed.append(run_pipeline(sessions, fixed_ctx, scanned,
                                                           "scanned.pdf", meter)))
        interleave(n, steps)
        print(f"  scanned round {n + 1}: pipeline {pipe[-1].wall:.2f}s, tesseract CLI "
              f"{cli[-1].wall:.2f}s, engine via pool {eng[-1].wall:.2f}s, raw embedder "
              f"{emb[-1].wall:.2f}s" + (f", pipeline with proposed fixes {fixed[-1].wall:.2f}s"
                                        if fixed else "") + f", load {pipe[-1].load_1m}")
    print(f"scanned: {len(images)} pages at {args.dpi} dpi → {len(pipe[0].chunks)} chunks, "
          f"{args.ocr_workers} OCR processes")
    both = [RawRun(c.wall + e.wall, c.cpu + e.cpu, c.units, c.load_1m)
            for c, e in zip(cli, emb, strict=True)]
    out = summarise("scanned", pipe, {"tesseract CLI": cli, "engine via pool": eng,
                                      "tesseract CLI + raw embedder": both},
                    "pages", SCANNED_TARGET, "tesseract CLI")
    ocr_stage = ratio_summary([c.wall / (p.stages["reading"] + p.stages["ocr"])
                               for c, p in zip(cli, pipe, strict=True)])
    out["scanned"]["ratios"]["read+OCR stage vs tesseract CLI"] = {"throughput": ocr_stage}
    print(f"  pipeline read+OCR stages alone ÷ tesseract CLI: {ocr_stage['median']}× "
          f"(rounds {ocr_stage['min']}–{ocr_stage['max']})")
    if fixed:
        print("  the same with the proposed OCR fixes (numpy despeckle, raw-pixel hand-off):")
        alt = summarise("scanned_proposed", fixed, {"tesseract CLI": cli,
                                                     "tesseract CLI + raw embedder": both},
                        "pages", SCANNED_TARGET, "tesseract CLI")
        out["scanned"]["proposed_fixes"] = alt["scanned_proposed"]
    out["scanned"]["engine_passes"] = eng[0].extra
    out["scanned"]["page_cost_breakdown_cpu_s"] = breakdown = page_breakdown(scanned, args.dpi)
    print(f"  engine on this scan: psm {eng[0].extra['psm']}, rotation {eng[0].extra['rotation']}"
          f", OSD checked on {eng[0].extra['osd_checked']}/{len(images)} pages")
    print("  CPU seconds of one page, part by part (median of 3; page 1):")
    print("    " + ", ".join(f"{k} {v:.3f}" for k, v in breakdown.items()))
    return out


def page_breakdown(scanned: bytes, dpi: int) -> dict[str, float]:
    """CPU seconds of each piece of work the pipeline does for one scanned page (median of 3).

    Parent process: render, PNG encode for the pool; worker: PNG decode, despeckle (3x3
    median), the psm 3 Tesseract pass (child CPU), the dropped-block check; and what the two
    proposed replacements cost. The embedder's cost is in the stage table.
    """
    from PIL import ImageFilter

    from ingest.ocr import TesseractOcr, _dropped

    engine = TesseractOcr(dpi=dpi)
    parts: dict[str, list[float]] = {}

    @contextmanager
    def cost(name: str) -> Iterator[None]:
        before = time.process_time() + _children_cpu()
        yield
        parts.setdefault(name, []).append(time.process_time() + _children_cpu() - before)

    for _ in range(3):
        with cost("render (parent)"):
            image = render_page(scanned, 0, dpi)
        buffer = io.BytesIO()
        with cost("PNG encode (parent)"):
            image.save(buffer, format="PNG", compress_level=1)
        with cost("PNG decode (worker)"):
            Image.open(io.BytesIO(buffer.getvalue())).load()
        with cost("despeckle median 3x3 (worker)"):
            gray = image.filter(ImageFilter.MedianFilter(3))
        with cost("proposed: despeckle as numpy network (worker)"):
            median3(image)
        with cost("proposed: raw-pixel hand-off (both)"):
            Image.frombytes(image.mode, image.size, image.tobytes()).load()
        with cost("tesseract psm 3 (child)"):
            read = engine._pass(gray, dpi, psm=3, rotation=0)
        with cost("dropped-block check (worker)"):
            _dropped(gray, read, dpi)
    return {name: round(statistics.median(values), 3) for name, values in parts.items()}


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- main


def interleave(round_no: int, steps: Sequence[Callable[[], None]]) -> None:
    """Run the round's steps, reversing their order every other round (load drifts)."""
    for step in steps if round_no % 2 == 0 else list(reversed(steps)):
        step()


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.omp_passive:  # before torch is imported (its OpenMP reads this when loaded)
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    print(f"bench.ingest: {args.pages}-page documents, {args.rounds} rounds, "
          f"{args.ocr_workers} OCR processes; {load_line()}")
    digital, _ = synthetic_report(args.pages)
    scanned = scanned_copy(digital, dpi=args.dpi)
    embedder = load_embedder()
    meter = CpuMeter()
    limits = Limits()
    results: dict[str, Any] = {"config": vars(args), "load_start": machine_load(),
                               "embedder": getattr(embedder, "model_name", "?"),
                               "code": code_versions(*CODE_UNDER_TEST)}
    with bench_database(DATABASE) as url, OcrPool(args.ocr_workers) as pool, \
            tempfile.TemporaryDirectory(prefix="lectern-bench-ingest-") as tmp:
        from app.db.engine import make_engine, session_factory

        engine = make_engine(url)
        sessions = session_factory(engine)
        purge(sessions)
        ctx = IngestContext(embedder=embedder, limits=limits, ocr=pool, dpi=args.dpi)
        # Warm-up: model, pool workers, database connections; also gives the digital chunks.
        warm = run_pipeline(sessions, ctx, digital, "warm.pdf", meter)
        embedder.embed(["warm-up"])
        if "digital" in args.only:
            pipe: list[PipelineRun] = []
            raw: list[RawRun] = []
            for n in range(args.rounds):
                interleave(n, [
                    lambda: pipe.append(run_pipeline(sessions, ctx, digital, "digital.pdf",
                                                     meter)),
                    lambda: raw.append(raw_embed(embedder, warm.chunks, ctx.embed_batch, meter)),
                ])
                print(f"  digital round {n + 1}: pipeline {pipe[-1].wall:.2f}s, raw embedder "
                      f"{raw[-1].wall:.2f}s, load {pipe[-1].load_1m}")
            tokens = sum(c.token_count for c in warm.chunks)
            print(f"digital: {warm.pages} pages → {len(warm.chunks)} chunks, {tokens} tokens "
                  f"(batch {ctx.embed_batch})")
            results |= summarise("digital", pipe, {"raw embedder": raw}, "chunks",
                                 DIGITAL_TARGET, "raw embedder")
            results["digital"]["tokens"] = tokens
        if "scanned" in args.only:
            proposed = RawPixelOcrPool(args.ocr_workers, partial(FastDespeckleOcr, args.dpi)) \
                if args.proposed else None
            try:
                results |= scanned_rounds(args, scanned, sessions, ctx, pool, embedder, meter,
                                          Path(tmp), proposed)
            finally:
                if proposed is not None:
                    proposed.close()
        engine.dispose()
    results["load_end"] = machine_load()
    print(load_line())
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=10, help="pages per document")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--ocr-workers", type=int, default=2)
    parser.add_argument("--proposed", action="store_true",
                        help="also run the scanned pipeline with the proposed OCR fixes")
    parser.add_argument("--omp-passive", action="store_true",
                        help="OMP_WAIT_POLICY=PASSIVE for torch (proposed; default as shipped)")
    parser.add_argument("--only", nargs="+", choices=("digital", "scanned"),
                        default=["digital", "scanned"])
    args = parser.parse_args(argv)
    results = run(args)
    path = write_results("ingest", results)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
