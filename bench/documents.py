"""The synthetic documents of `bench.ingest`: a deterministic multi-page digital PDF with
headings, paragraphs and tables, and the same pages as an image-only "scan" (tilted, noisy,
JPEG), built with the drawing helpers of `scripts/make_samples.py` so they look like
`samples/`.
"""

from __future__ import annotations

import importlib.util
import io
import os
import random
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from bench.common import REPO_ROOT


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
            for drawn in ms.wrap(content, font, size, ms.TEXT_WIDTH):
                y -= height
                if y < ms.MARGIN:
                    break
                canvas.drawString(ms.MARGIN, y, drawn)
                lines.append(drawn)
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
