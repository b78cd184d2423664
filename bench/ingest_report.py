"""The printed and stored figures of `bench.ingest`: throughput and CPU cost per run, the
pipeline ÷ raw ratios per round against the issue's target, and where the pipeline's time
went stage by stage.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from bench.common import format_table
from bench.ingest_runs import PipelineRun, RawRun
from bench.timing import ratio_summary

STAGE_ORDER = ("reading", "render", "ocr", "cleanup", "chunking", "embedding", "storing")


def per_min(units: int, seconds: float) -> float:
    """`units` per minute over `seconds` (NaN for no time)."""
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
