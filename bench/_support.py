"""Helpers for the ingest, query and extraction benchmarks (the shared ones are in `common`).

- `machine_load()`: the load average and CPU count, printed and stored with every figure, since
  these benchmarks run on small shared machines where absolute numbers mean little;
- `percentile`, `ratio_summary`: statistics over repeated, interleaved measurements;
- `CpuMeter`: CPU seconds spent by this process and its descendants (Tesseract children
  included), a cost measure much less sensitive to other load than wall time;
- `synthetic_report` / `scanned_copy`: a deterministic multi-page digital PDF with headings,
  paragraphs and tables, and the same pages as an image-only "scan" (tilted, noisy, JPEG),
  built with the drawing helpers of `scripts/make_samples.py`;
- `char_error_rate`: Levenshtein distance over reference length, whitespace folded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from bench.common import REPO_ROOT

# --------------------------------------------------------------------------- the machine


def machine_load() -> dict[str, Any]:
    """Load averages (1, 5, 15 min) and usable CPUs, for the record next to every figure."""
    one, five, fifteen = os.getloadavg()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"load_1m": round(one, 2), "load_5m": round(five, 2), "load_15m": round(fifteen, 2),
            "cpus": cpus}


def load_line() -> str:
    """`load average 3.1 / 2.9 / 2.5 on 2 CPUs`, for printed output."""
    m = machine_load()
    return f"load average {m['load_1m']} / {m['load_5m']} / {m['load_15m']} on {m['cpus']} CPUs"


class CpuMeter:
    """CPU seconds (user + system) used by this process and all its live and reaped descendants.

    A child's time is counted while it runs (through psutil) and after it is reaped (through the
    `children_*` fields), so pool workers and the Tesseract processes they start are both seen.
    Take `read()` before and after a run and subtract.
    """

    def __init__(self) -> None:
        self._me = psutil.Process()

    def read(self) -> float:
        """Total CPU seconds so far."""
        total = _cpu(self._me)
        for child in self._me.children(recursive=True):
            try:
                total += _cpu(child)  # live descendants are each listed; reaped ones are
            except psutil.Error:  # in their parent's children_* fields, counted once
                continue
        return total


def _cpu(process: psutil.Process) -> float:
    t = process.cpu_times()
    return float(t.user + t.system + t.children_user + t.children_system)


def code_versions(*paths: str) -> dict[str, Any]:
    """The git commit and each file's content hash: the tree changes while benchmarks run,
    so results say exactly which code they measured (`dirty` = differs from the commit)."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip()

    dirty = set(git("status", "--porcelain", "--", *paths).splitlines())
    files = {}
    for path in paths:
        data = (REPO_ROOT / path).read_bytes() if (REPO_ROOT / path).exists() else b""
        files[path] = {"sha256": hashlib.sha256(data).hexdigest()[:12],
                       "dirty": any(line.endswith(path) for line in dirty)}
    return {"commit": git("rev-parse", "--short", "HEAD"), "files": files}


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0–100) with linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio_summary(ratios: Sequence[float]) -> dict[str, float]:
    """Median, min and max of per-round ratios (each round measured both sides back to back)."""
    return {"median": round(statistics.median(ratios), 3), "min": round(min(ratios), 3),
            "max": round(max(ratios), 3), "rounds": len(ratios)}


@dataclass
class Timer:
    """Wall seconds and CPU seconds of one block (see `timed`)."""

    wall: float = 0.0
    cpu: float = 0.0


class timed:
    """`with timed(meter) as t: ...` → `t.wall`, `t.cpu` (CPU of this process tree)."""

    def __init__(self, meter: CpuMeter | None = None) -> None:
        self.meter = meter or CpuMeter()
        self.result = Timer()

    def __enter__(self) -> Timer:
        self._cpu0 = self.meter.read()
        self._wall0 = time.perf_counter()
        return self.result

    def __exit__(self, *exc: object) -> None:
        self.result.wall = time.perf_counter() - self._wall0
        self.result.cpu = self.meter.read() - self._cpu0


# --------------------------------------------------------------------------- documents


@cache
def make_samples() -> ModuleType:
    """`scripts/make_samples.py` as a module (its drawing helpers; nothing is written)."""
    path = REPO_ROOT / "scripts" / "make_samples.py"
    spec = importlib.util.spec_from_file_location("lectern_make_samples", path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is in the repo
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_TOPICS = ["Revenue", "Operating costs", "Staff", "Logistics", "Customers", "Stores", "Online",
           "Suppliers", "Risks", "Investments", "Energy", "Training", "Pricing", "Inventory"]
_SUBJECTS = ["The company", "The board", "The northern region", "Our online shop",
             "The finance office", "Each store manager", "The logistics team",
             "The new warehouse", "The loyalty programme", "The audit committee"]
_VERBS = ["reported", "expected", "measured", "reviewed", "approved", "reduced", "increased",
          "planned", "compared", "recorded"]
_OBJECTS = ["sales of outdoor clothing", "the cost of freight from Asia", "staff turnover",
            "the number of active members", "energy use in the warehouses", "stock levels",
            "returns from online orders", "the gross margin on winter jackets",
            "spending on delivery vans", "the average basket size"]
_TAILS = ["compared with the previous year", "in the second half of the year",
          "after the pay review in April", "across all regions", "in every quarter but one",
          "because of the new distribution centre", "as the plan assumed",
          "despite a cold spring", "for the third year in a row", "within the agreed budget"]


def _sentence(rng: random.Random) -> str:
    number = rng.choice([f"{rng.randint(2, 98)}%", f"${rng.randint(1, 60)}.{rng.randint(0, 9)} "
                         "million", f"{rng.randint(100, 9999):,} units"])
    return (f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} at {number} "
            f"{rng.choice(_TAILS)}.")


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _page_blocks(rng: random.Random, number: int) -> list[tuple[str, str | list[list[str]]]]:
    """One page: a numbered section, two subsections, paragraphs, and on every third a table."""
    topic = _TOPICS[number % len(_TOPICS)]
    blocks: list[tuple[str, str | list[list[str]]]] = [("h1", f"{number} {topic}"),
                                                       ("p", _paragraph(rng, 5))]
    for sub in (1, 2):
        blocks.append(("h2", f"{number}.{sub} {rng.choice(_TOPICS)} and {rng.choice(_TOPICS)}"))
        blocks.append(("p", _paragraph(rng, 5)))
        if sub == 1 and number % 3 == 0:
            rows = [["Region", "Q1", "Q2", "Q3", "Q4"]]
            rows += [[name, *(f"{rng.uniform(1, 9):.1f}" for _ in range(4))]
                     for name in ("North", "South", "Online")]
            blocks.append(("table", rows))
        else:
            blocks.append(("p", _paragraph(rng, 4)))
    return blocks


def synthetic_report(pages: int, seed: int = 2024) -> tuple[bytes, list[str]]:
    """A digital report of `pages` pages and the text of each page (as drawn).

    Letter pages in the style of `samples/digital-report.pdf`: a numbered heading per page,
    two subsections, about 350 words, a table on every third page, a footer. Deterministic.
    """
    ms = make_samples()
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    rng = random.Random(seed)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=letter, invariant=1)
    texts: list[str] = []
    for number in range(1, pages + 1):
        y = letter[1] - ms.MARGIN
        lines: list[str] = []
        for style, content in _page_blocks(rng, number):
            font, size, before, height = ms.STYLES[style]
            y -= before
            canvas.setFont(font, size)
            if isinstance(content, list):
                for row in content:
                    y -= height
                    for x, cell in zip(ms.TABLE_COLUMNS, row, strict=True):
                        canvas.drawString(ms.MARGIN + x, y, cell)
                    lines.append(" ".join(row))
                continue
            for text in ms.wrap(content, font, size, ms.TEXT_WIDTH):
                y -= height
                if y < ms.MARGIN:
                    break
                canvas.drawString(ms.MARGIN, y, text)
                lines.append(text)
        footer = f"Page {number} of {pages}"
        canvas.setFont("Helvetica", 9)
        canvas.drawCentredString(letter[0] / 2, ms.MARGIN / 2, footer)
        lines.append(footer)
        texts.append("\n".join(lines))
        canvas.showPage()
    canvas.save()
    return buffer.getvalue(), texts


def scanned_copy(pdf: bytes, *, dpi: int = 200, seed: int = 7) -> bytes:
    """The same pages as an image-only PDF: rendered, tilted ±1.6°, noisy, JPEG at `dpi`."""
    import pypdfium2 as pdfium

    ms = make_samples()
    rng = random.Random(seed)
    document = pdfium.PdfDocument(pdf)
    try:
        images = [page.render(scale=dpi / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()
    scans = [ms.degrade(img, rng.uniform(-1.6, 1.6), seed=seed + i)
             for i, img in enumerate(images)]
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"lectern-bench-scan-{os.getpid()}.pdf"
    try:
        ms.write_scanned_pdf(out, scans, dpi)
        return out.read_bytes()
    finally:
        out.unlink(missing_ok=True)


# --------------------------------------------------------------------------- text


def fold(text: str) -> str:
    """Whitespace folded to single spaces, trimmed."""
    return " ".join(text.split())


def char_error_rate(reference: str, hypothesis: str, *, ignore_case: bool = False) -> float:
    """Character edit distance / reference length, after folding whitespace (0 = perfect).

    `ignore_case` compares case-folded text (for references transcribed in capitals, as
    SROIE's `box` files are).
    """
    from rapidfuzz.distance import Levenshtein

    ref, hyp = fold(reference), fold(hypothesis)
    if ignore_case:
        ref, hyp = ref.casefold(), hyp.casefold()
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(Levenshtein.distance(ref, hyp)) / len(ref)


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
