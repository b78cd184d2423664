"""The scanned half of `bench.ingest`: the image-only report through the pipeline against the
Tesseract CLI, the engine through the pool, and the CLI plus the raw embedder, round by round
(also with the proposed OCR fixes, when asked); then the CPU cost of one page, part by part.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from bench.ingest_report import summarise
from bench.ingest_runs import (
    PipelineRun,
    RawRun,
    engine_pool,
    interleave,
    raw_embed,
    raw_tesseract,
    run_pipeline,
)
from bench.proposed_ocr import median3
from bench.timing import CpuMeter, ratio_summary
from ingest.embedding import Embedder
from ingest.ocr_pool import OcrPool
from ingest.pipeline import IngestContext
from ingest.textlayer import open_pdf, render_page

SCANNED_TARGET = 0.85


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
