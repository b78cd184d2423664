"""How faithfully each format is read: per-page character error rate of every sample.

    .venv/bin/python -m bench.formats

Every document of `samples/` that has an expected text (`<name>.txt`, pages split at form
feeds) is sniffed and read by `ingest.read_pages.read_pages`, as ingestion reads an upload
(text layer, structured formats with their pictures OCRed, Tesseract through an `OcrPool` of 2
worker processes for scans and photos). The Markdown of each converted page is taken back to
the expected texts' plain lines (`tests.support.markdown_text`; text and Markdown uploads are
kept as they are) and compared with its reference page (`tests.support.cer`,
whitespace-normalised Levenshtein over the reference length). For the two
samples whose pictures hold text (`<name>.image-text.txt`), the text read from the pictures
is scored on its own as well. Results: `bench/results/formats.json`.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.common import REPO_ROOT, format_table, write_results
from bench.machine import code_versions, load_line, machine_load
from ingest.ocr_pool import OcrPool
from ingest.read_pages import read_pages
from ingest.sniff import sniff
from ingest.types import Limits
from tests.support.cer import SAMPLES, char_error_rate, fold_whitespace, reference_pages
from tests.support.markdown_text import image_text, without_image_markers

STRUCTURED = ("docx", "xlsx", "pptx", "odt", "html", "eml")
CODE = ("ingest/read_pages.py", "ingest/structured.py", "ingest/embedded_images.py",
        "ingest/textlayer.py", "ingest/ocr.py")


def sample_names() -> list[str]:
    """Every sample file with an expected text beside it."""
    return sorted(p.name for p in SAMPLES.iterdir()
                  if p.suffix != ".txt" and (SAMPLES / f"{p.stem}.txt").exists())


def measure(name: str, pool: OcrPool) -> dict[str, Any]:
    """One sample read as an upload: its kind, per-page CER, picture CER and seconds."""
    data = (SAMPLES / name).read_bytes()
    limits = Limits()
    sniffed = sniff(data, name, limits)
    started = time.perf_counter()
    pages = read_pages(data, sniffed, limits=limits, ocr=pool)
    seconds = time.perf_counter() - started
    reference = reference_pages(name.rsplit(".", 1)[0])
    # Converted formats come back as Markdown; text and Markdown uploads are kept as they are.
    converted = sniffed.kind in STRUCTURED
    texts = [without_image_markers(p.text) if converted else p.text for p in pages]
    cers = [char_error_rate(ref, hyp) for ref, hyp in zip(reference, texts, strict=False)]
    whole = char_error_rate("\n".join(reference), "\n".join(texts))
    row: dict[str, Any] = {
        "sample": name, "kind": sniffed.kind, "methods": sorted({p.method for p in pages}),
        "pages": len(pages), "reference_pages": len(reference),
        "cer": round(whole, 4), "worst_page_cer": round(max(cers, default=0.0), 4),
        "seconds": round(seconds, 2), "image_cer": None}
    pictures = SAMPLES / f"{name.rsplit('.', 1)[0]}.image-text.txt"
    if pictures.exists():
        read = "\n".join(image_text(page.text) for page in pages)
        row["image_cer"] = round(char_error_rate(
            pictures.read_text(encoding="utf-8"), read, normalise=fold_whitespace), 4)
    return row


def main() -> None:
    """Command-line entry point; prints the table and writes `bench/results/formats.json`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="OCR worker processes")
    args = parser.parse_args()
    names = sample_names()
    print(f"bench.formats: {len(names)} samples; {load_line()}")
    with OcrPool(args.workers) as pool:
        rows = [measure(name, pool) for name in names]
    print(format_table(
        ["sample", "kind", "read by", "pages", "CER", "worst page", "picture CER", "s"],
        [[r["sample"], r["kind"], "+".join(r["methods"]), f"{r['pages']}/{r['reference_pages']}",
          r["cer"], r["worst_page_cer"], "-" if r["image_cer"] is None else r["image_cer"],
          r["seconds"]] for r in rows]))
    path = write_results("formats", {"load": machine_load(), "code": code_versions(*CODE),
                                     "samples": rows})
    print(f"{load_line()}\nresults: {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
