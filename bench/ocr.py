"""OCR quality on SROIE receipt photos, through lectern's own OCR path, and its cost per page.

    .venv/bin/python -m bench.ocr                  # 50 receipts + the clean samples
    .venv/bin/python -m bench.ocr --limit 10 --no-samples

Data: `$LECTERN_SHARED_DATA/sroie-dev` (default `../shared/data`; `img/NNN.jpg`, ground-truth
line transcripts `box/NNN.csv`, key fields `key/NNN.json`), read in place, never copied. Each
receipt goes through `ingest.read_pages.read_pages` (sniff → `open_image` → frames → an
`OcrPool` of 2 worker processes running `TesseractOcr.read`), exactly as ingestion reads an
uploaded photo; two receipts are in flight at a time so both workers are busy.

Figures per receipt, then mean and median:
- `cer`, the line-matched character error rate (primary): each transcript line, longest first,
  is matched to the most similar not-yet-used stretch of the OCR text (rapidfuzz
  `partial_ratio_alignment`) and costs the edit distance to it; a line with no stretch at least
  half similar costs its length; every letter or digit of the OCR text left unmatched at the end
  counts as one inserted character. Errors / transcript characters, case-insensitive, whitespace
  folded. It is a simplified "flexible character accuracy" (Clausner et al., ICDAR 2019): the
  ground truth is one row per text box, in no reliable reading order (an item's price is often
  its own box), so comparing one concatenation with another charges every reordering as
  errors and rewards whichever page segmentation happens to match the annotators' order;
- `cer_ordered`: the figure `bench.extract` reports (transcripts in file order, whitespace
  folded, case-sensitive), kept for continuity with earlier numbers;
- key-field coverage: whether `company`, `date`, `address`, `total` of `key/NNN.json` occur in
  the OCR text `verbatim` (whitespace folded, case-insensitive; date and total not inside a
  longer number) or `compact` (also with all spaces removed: "NO.53,JALAN" matches
  "NO.53, JALAN"). This is the most a key-field extractor could copy from the page;
- seconds per receipt (wall, two in flight) and CPU seconds per receipt (Tesseract included).

With `--samples` (default on) the clean pages of `samples/` (scanned-report.pdf at 200 dpi,
receipt.png, page.png) are read one document at a time through the same pool, for wall and CPU
seconds per page and a whitespace-folded CER against their `.txt`: the cost on clean scans.
Results: `bench/results/ocr.json`.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from bench.common import REPO_ROOT, format_table, shared_data_dir, write_results
from bench.machine import code_versions, load_line, machine_load
from bench.timing import CpuMeter
from ingest.errors import NoReadableText
from ingest.ocr_pool import OcrPool, PageOcr
from ingest.read_pages import read_pages
from ingest.sniff import sniff
from ingest.types import Limits
from tests.support.cer import char_error_rate, fold_whitespace

FIELDS = ("company", "date", "address", "total")
# A transcript line is matched only to a stretch of OCR text at least this similar (0–100).
MIN_LINE_SIMILARITY = 50.0
SAMPLES = (("scanned-report.pdf", "scanned-report.txt"), ("receipt.png", "receipt.txt"),
           ("page.png", "page.txt"))
CODE = ("ingest/ocr.py", "ingest/images.py", "ingest/ocr_pool.py", "ingest/read_pages.py")


@dataclass(frozen=True)
class Receipt:
    """One SROIE receipt: its image bytes, transcript lines (file order) and key fields."""

    name: str
    data: bytes
    lines: list[str]
    key: dict[str, str]


def load_receipts(root: Path, limit: int | None) -> list[Receipt]:
    """The receipts of `root` (a SROIE folder), sorted by name, the first `limit` of them."""
    receipts = []
    for image in sorted((root / "img").glob("*.jpg"))[:limit]:
        lines = []
        box = (root / "box" / f"{image.stem}.csv").read_text(encoding="utf-8", errors="replace")
        for row in box.splitlines():
            parts = row.split(",", 8)
            if len(parts) == 9:
                lines.append(parts[8])
        key = json.loads((root / "key" / f"{image.stem}.json").read_text(encoding="utf-8"))
        receipts.append(Receipt(image.stem, image.read_bytes(), lines, key))
    return receipts


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def line_matched_cer(lines: list[str], text: str) -> float:
    """Order-insensitive CER of OCR `text` against transcript `lines` (see the module doc)."""
    refs = sorted((r for r in (_fold(line) for line in lines) if r), key=len, reverse=True)
    total = sum(len(r) for r in refs)
    rest = "\n".join(_fold(line) for line in text.splitlines())
    errors = 0
    for ref in refs:
        found = fuzz.partial_ratio_alignment(ref, rest) if rest else None
        if found is None or found.score < MIN_LINE_SIMILARITY:
            errors += len(ref)
            continue
        errors += Levenshtein.distance(ref, rest[found.dest_start:found.dest_end])
        rest = rest[:found.dest_start] + "\n" + rest[found.dest_end:]
    errors += sum(ch.isalnum() for ch in rest)
    if not total:
        return 0.0 if not errors else 1.0
    return errors / total


def field_found(field: str, value: str, text: str, *, compact: bool) -> bool:
    """Whether key-field `value` occurs in `text` (see the module doc for the two forms)."""
    if compact and field_found(field, value, text, compact=False):
        return True
    needle, haystack = _fold(value), _fold(text)
    if compact:
        needle, haystack = needle.replace(" ", ""), haystack.replace(" ", "")
    if not needle:
        return False
    if field in ("date", "total"):
        pattern = r"(?<![0-9.])" + re.escape(needle) + r"(?![0-9])"
        return re.search(pattern, haystack) is not None
    return needle in haystack


def read_document(data: bytes, filename: str, ocr: PageOcr) -> tuple[str, float, int]:
    """OCR one upload the way ingestion does: (all pages' text, wall seconds, pages)."""
    limits = Limits()
    started = time.perf_counter()
    try:
        pages = read_pages(data, sniff(data, filename, limits), limits=limits, ocr=ocr)
    except NoReadableText as exc:
        return "", time.perf_counter() - started, int(exc.details.get("pages", 1))
    seconds = time.perf_counter() - started
    return "\n".join(page.text for page in pages), seconds, len(pages)


def score_receipt(receipt: Receipt, text: str, seconds: float) -> dict[str, Any]:
    """The per-receipt row: CERs, key fields found, seconds, and the text itself."""
    found = {f: {"verbatim": field_found(f, receipt.key.get(f, ""), text, compact=False),
                 "compact": field_found(f, receipt.key.get(f, ""), text, compact=True)}
             for f in FIELDS}
    return {"receipt": receipt.name, "cer": round(line_matched_cer(receipt.lines, text), 4),
            "cer_ordered": round(char_error_rate("\n".join(receipt.lines), text,
                                                  normalise=fold_whitespace), 4),
            "seconds": round(seconds, 2), "fields": found, "chars": len(text), "text": text}


def run_receipts(receipts: list[Receipt], pool: OcrPool) -> dict[str, Any]:
    """OCR and score every receipt, two at a time; the summary with per-receipt rows."""
    meter = CpuMeter()
    cpu_before, started = meter.read(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=pool.workers) as threads:
        reads = threads.map(lambda r: read_document(r.data, f"{r.name}.jpg", pool), receipts)
        rows = []
        for receipt, (text, seconds, _pages) in zip(receipts, reads, strict=True):
            row = score_receipt(receipt, text, seconds)
            rows.append(row)
            marks = "".join("✓" if row["fields"][f]["verbatim"] else "·" for f in FIELDS)
            print(f"  {receipt.name}: cer {row['cer']:.3f}  ordered {row['cer_ordered']:.3f}  "
                  f"fields {marks}  {seconds:.1f}s")
    wall, cpu = time.perf_counter() - started, meter.read() - cpu_before
    n = len(rows)
    coverage = {form: {f: sum(r["fields"][f][form] for r in rows) / n for f in FIELDS}
                for form in ("verbatim", "compact")}
    return {
        "receipts": n,
        "cer_mean": statistics.mean(r["cer"] for r in rows),
        "cer_median": statistics.median(r["cer"] for r in rows),
        "cer_ordered_mean": statistics.mean(r["cer_ordered"] for r in rows),
        "cer_ordered_median": statistics.median(r["cer_ordered"] for r in rows),
        "field_coverage": coverage,
        "field_coverage_mean": {form: statistics.mean(v.values())
                                for form, v in coverage.items()},
        "seconds_per_receipt": statistics.mean(r["seconds"] for r in rows),
        "wall_seconds": round(wall, 2), "cpu_seconds_per_receipt": round(cpu / n, 2),
        "rows": rows,
    }


def run_samples(pool: OcrPool) -> list[dict[str, Any]]:
    """Wall and CPU seconds per page and CER for the clean samples, one document at a time."""
    meter = CpuMeter()
    rows = []
    for name, truth in SAMPLES:
        data = (REPO_ROOT / "samples" / name).read_bytes()
        reference = (REPO_ROOT / "samples" / truth).read_text(encoding="utf-8")
        cpu_before = meter.read()
        text, seconds, pages = read_document(data, name, pool)
        cpu = meter.read() - cpu_before
        rows.append({"sample": name, "pages": pages,
                     "seconds_per_page": round(seconds / pages, 2),
                     "cpu_seconds_per_page": round(cpu / pages, 2),
                     "cer": round(char_error_rate(reference.replace("\f", "\n"), text,
                                                  normalise=fold_whitespace), 4)})
    return rows


def main() -> None:
    """Command-line entry point; prints the tables and writes `bench/results/<name>.json`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N receipts")
    parser.add_argument("--workers", type=int, default=2, help="OCR worker processes")
    parser.add_argument("--samples", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the clean pages of samples/")
    parser.add_argument("--name", default="ocr", help="results file bench/results/NAME.json")
    args = parser.parse_args()
    receipts = load_receipts(shared_data_dir() / "sroie-dev", args.limit)
    print(f"{len(receipts)} SROIE receipts; {args.workers} OCR workers; {load_line()}")
    with OcrPool(args.workers) as pool:
        list(pool.map([]))  # start the workers before the clock does
        summary = run_receipts(receipts, pool)
        samples = run_samples(pool) if args.samples else []
    cov = summary["field_coverage"]
    table = [(f, cov["verbatim"][f], cov["compact"][f]) for f in FIELDS]
    table.append(("mean", summary["field_coverage_mean"]["verbatim"],
                  summary["field_coverage_mean"]["compact"]))
    print(format_table(("key field found", "verbatim", "compact"), table))
    print(f"CER line-matched mean {summary['cer_mean']:.4f} median {summary['cer_median']:.4f}; "
          f"ordered mean {summary['cer_ordered_mean']:.4f} median "
          f"{summary['cer_ordered_median']:.4f}; {summary['seconds_per_receipt']:.2f} s and "
          f"{summary['cpu_seconds_per_receipt']:.2f} CPU s per receipt")
    if samples:
        print(format_table(("clean sample", "pages", "s/page", "CPU s/page", "CER"),
                           [(s["sample"], s["pages"], s["seconds_per_page"],
                             s["cpu_seconds_per_page"], s["cer"]) for s in samples]))
    path = write_results(args.name, {"config": vars(args), "code": code_versions(*CODE),
                                     "load_end": machine_load(), **summary,
                                     "samples": samples})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
