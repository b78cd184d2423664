"""Generate the documents in `samples/` together with the exact text each one holds.

Run `python scripts/make_samples.py` from the repository root. The output is deterministic
(fixed seeds, reportlab's invariant mode), so re-running it changes no bytes. Each sample
`<name>.<ext>` gets a `<name>.txt` with its text, one line per drawn line; pages are separated
by a form feed so OCR can be scored page by page.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageChops
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

OUT = Path(__file__).resolve().parent.parent / "samples"
# style -> (font, size, space before, line height)
STYLES = {
    "title": ("Helvetica-Bold", 20.0, 0.0, 26.0),
    "meta": ("Helvetica-Oblique", 10.0, 0.0, 14.0),
    "h1": ("Helvetica-Bold", 15.0, 14.0, 20.0),
    "h2": ("Helvetica-Bold", 12.5, 10.0, 17.0),
    "p": ("Helvetica", 11.0, 6.0, 15.0),
    "table": ("Helvetica", 10.0, 6.0, 14.0),
}
MARGIN = 72.0
TEXT_WIDTH = letter[0] - 2 * MARGIN
TABLE_COLUMNS = (0.0, 150.0, 220.0, 290.0, 360.0)
SOFT_HYPHEN = "\u00ad"

H = "\u00ad"  # soft hyphen: where `wrap` may break a word across a line end
REPORT_PAGES: list[list[tuple[str, str | list[list[str]]]]] = [
    [
        ("title", "Northwind Outfitters Annual Report 2024"),
        ("meta", "Prepared by the Finance Office, 14 March 2025"),
        ("h1", "1 Introduction"),
        ("p", "Northwind Outfitters designs and sells outdoor clothing and camping equipment "
              "through 38 stores and an online shop. This report summarises the results of the "
              "financial year that ended on 31 December 2024 and explains the main decisions "
              "taken by the board during the year."),
        ("p", "The year was shaped by a cold spring, a strong summer season and the opening of "
              "a second distribution centre in Leeds. Online sales grew faster than store sales "
              "for the third year in a row, and the company continued to invest in new delivery "
              f"vans, its warehouses and its logistics infra{H}structure and in staff training."),
        ("h2", "1.1 Scope of this report"),
        ("p", "The figures cover Northwind Outfitters Ltd and its two subsidiaries, Northwind "
              "Retail GmbH and Fjell Supply AS. All amounts are in US dollars unless stated "
              "otherwise, and growth rates compare 2024 with the restated figures for 2023."),
        ("h2", "1.2 Sources of data"),
        ("p", "Revenue and cost figures come from the audited group accounts. Customer numbers "
              "come from the loyalty programme, which now has 412,000 active members, and store "
              "traffic is measured by door counters installed in every store in 2022."),
    ],
    [
        ("h1", "2 Results"),
        ("p", "Trading was ahead of plan in every quarter except the first. Gross margin "
              "improved by 1.8 percentage points to 47.3%, mainly because fewer items had to be "
              "sold at a discount at the end of the winter season."),
        ("h2", "2.1 Revenue"),
        ("p", "Total revenue rose to $48.2 million in 2024, up 12.5% from $42.8 million in "
              "2023. Online revenue reached $17.9 million, or 37% of the total. The table below "
              "shows revenue by region and quarter, in millions of dollars."),
        ("table", [["Region", "Q1", "Q2", "Q3", "Q4"],
                   ["North", "2.9", "3.8", "4.6", "4.1"],
                   ["South", "2.4", "3.1", "3.9", "3.5"],
                   ["Online", "3.6", "4.2", "4.8", "5.3"],
                   ["Total", "8.9", "11.1", "13.3", "12.9"]]),
        ("h2", "2.2 Operating costs"),
        ("p", "Operating costs were $39.6 million, an increase of 9.1%. Staff costs grew to "
              "$14.2 million after the pay review in April, and rent rose by $0.6 million "
              "because of the new distribution centre. Marketing spending was held flat at "
              "$2.3 million."),
        ("h2", "2.3 Profit"),
        ("p", "Operating profit was $8.6 million, compared with $6.5 million in 2023, and the "
              "operating margin widened from 15.2% to 17.8%. Net profit after tax was "
              "$6.4 million."),
    ],
    [
        ("h1", "3 Outlook"),
        ("p", "The board expects revenue growth of 8% to 10% in 2025. The plan assumes a "
              "normal winter, stable cotton prices and the opening of four new stores, two of "
              "them in Scotland."),
        ("h2", "3.1 Investments"),
        ("p", "Capital spending of $5.1 million is planned for 2025. Most of it will go to a "
              "new warehouse management system, solar panels on the Leeds roof and a refit of "
              "the ten oldest stores."),
        ("h2", "3.2 Risks"),
        ("p", "The main risks are a weak winter season, higher freight costs on routes from "
              "Asia and the loss of key suppliers. The company keeps at least eight weeks of "
              "stock for its best selling lines and has a second supplier for every "
              "product that earns more than $250,000 a year."),
        ("h1", "4 Conclusion"),
        ("p", "2024 was the best year in the history of the company. Northwind Outfitters "
              "enters 2025 with no debt, $9.7 million in cash and a clear plan for growth."),
    ],
]
RECEIPT_ITEMS = [
    ("Organic Apples 1.2 kg", "5.99"), ("Whole Milk 2 L", "3.49"), ("Sourdough Bread", "4.25"),
    ("Free Range Eggs x12", "6.79"), ("Cheddar Cheese 400 g", "7.50"),
    ("Coffee Beans 500 g", "11.95"), ("", ""), ("SUBTOTAL", "39.97"), ("TAX 0.00%", "0.00"),
    ("TOTAL", "39.97"), ("", ""), ("VISA **** 4821", "39.97"),
]
RECEIPT_LINES = [
    "GREENLEAF MARKET".center(31), "214 Harbor Street".center(31),
    "Portland, OR 97204".center(31), "Tel (503) 555-0142".center(31), "",
    "Date: 2024-11-08     Time: 14:32", "Receipt No: 004817   Till: 3", "",
    *[f"{name:<24}{price:>7}" if name else "" for name, price in RECEIPT_ITEMS],
    "", "Thank you for shopping!".center(31),
]
NOTE_MD = """# Team offsite notes

Notes from the planning day on 6 February 2025.

## Decisions

- Move the weekly sync to Tuesday at 10:00.
- Adopt the new expense policy from 1 March.
- Pilot the self-service returns kiosk in the Leeds store.

## Action items

1. Priya drafts the kiosk pilot plan by 20 February.
2. Tom updates the onboarding guide with the expense rules.

### Open questions

Should the pilot include online orders? We agreed to decide after the first month of data.
"""


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap; a word marked with soft hyphens may be split there with a visible '-'."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if stringWidth(candidate.replace(SOFT_HYPHEN, ""), font, size) <= width:
            line = candidate
            continue
        parts = word.split(SOFT_HYPHEN)
        for cut in range(len(parts) - 1, 0, -1):
            head = "".join(parts[:cut]) + "-"
            if stringWidth(f"{line} {head}".strip(), font, size) <= width:
                lines.append(f"{line} {head}".strip())
                word = SOFT_HYPHEN.join(parts[cut:])
                break
        else:
            lines.append(line)
        line = word
    lines.append(line)
    return [x.replace(SOFT_HYPHEN, "") for x in lines if x]


def draw_report(path: Path) -> list[list[str]]:
    """Draw the digital report; return each page's lines as drawn."""
    canvas = Canvas(str(path), pagesize=letter, invariant=1)
    canvas.setTitle("Northwind Outfitters Annual Report 2024")
    pages: list[list[str]] = []
    for number, blocks in enumerate(REPORT_PAGES, start=1):
        y = letter[1] - MARGIN
        lines: list[str] = []
        for style, content in blocks:
            font, size, before, height = STYLES[style]
            y -= before
            canvas.setFont(font, size)
            if style == "table":
                for row in content:
                    y -= height
                    for x, cell in zip(TABLE_COLUMNS, row, strict=True):
                        canvas.drawString(MARGIN + x, y, cell)
                    lines.append(" ".join(row))
                continue
            assert isinstance(content, str)
            for text in wrap(content, font, size, TEXT_WIDTH):
                y -= height
                canvas.drawString(MARGIN, y, text)
                lines.append(text)
        if y < MARGIN + 20:
            raise SystemExit(f"report page {number} overflows (y={y:.0f})")
        footer = f"Page {number} of {len(REPORT_PAGES)}"
        canvas.setFont("Helvetica", 9)
        canvas.drawCentredString(letter[0] / 2, MARGIN / 2, footer)
        lines.append(footer)
        pages.append(lines)
        canvas.showPage()
    canvas.save()
    if not any(line.endswith("-") for page in pages for line in page):
        raise SystemExit("no hyphenated line end was produced; adjust the soft hyphens")
    return pages


def render(pdf_path: Path, dpi: int) -> list[Image.Image]:
    """Rasterise every page of a PDF to greyscale images."""
    document = pdfium.PdfDocument(str(pdf_path))
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()


def degrade(image: Image.Image, angle: float, seed: int) -> Image.Image:
    """Make a clean render look scanned: a small tilt, grey paper, and deterministic noise."""
    tilted = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    rng = random.Random(seed)
    width, height = image.width // 2, image.height // 2
    noise = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    # 2x2 dust specks on 1 in 256 cells: enough to bother OCR, cheap to compress.
    specks = noise.resize(image.size, Image.Resampling.NEAREST).point(
        lambda v: 110 if v == 255 else 0)
    return ImageChops.subtract(tilted.point(lambda v: min(v, 236)), specks)


def write_scanned_pdf(path: Path, images: list[Image.Image], dpi: int) -> None:
    """Write image-only pages (JPEG, no text layer) at the given resolution."""
    canvas = Canvas(str(path), pagesize=letter, invariant=1)
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=50, dpi=(dpi, dpi))
        buffer.seek(0)
        canvas.drawImage(ImageReader(buffer), 0, 0, width=letter[0], height=letter[1])
        canvas.showPage()
    canvas.save()


def make_receipt(path: Path, dpi: int) -> None:
    """Draw a till receipt in a monospaced font on 80 mm paper and save it as a PNG."""
    pdf = io.BytesIO()
    height = (len(RECEIPT_LINES) * 12 + 40) * 1.0
    canvas = Canvas(pdf, pagesize=(80 * mm, height), invariant=1)
    canvas.setFont("Courier-Bold", 9.5)
    for row, text in enumerate(RECEIPT_LINES):
        canvas.drawString(12, height - 24 - row * 12, text)
    canvas.showPage()
    canvas.save()
    page = pdfium.PdfDocument(pdf.getvalue())[0]
    image = page.render(scale=dpi / 72).to_pil().convert("L")
    degrade(image, 0.0, seed=7).save(path, format="PNG", optimize=True, dpi=(dpi, dpi))


def write_text(path: Path, pages: list[list[str]]) -> None:
    """Write the reference text: lines joined by newlines, pages by form feeds."""
    path.write_text("\f".join("\n".join(lines) + "\n" for lines in pages), encoding="utf-8")


def main() -> None:
    """Regenerate every sample and its reference text."""
    OUT.mkdir(exist_ok=True)
    pages = draw_report(OUT / "digital-report.pdf")
    write_text(OUT / "digital-report.txt", pages)

    dpi = 200
    scans = [degrade(img, angle, seed=i) for i, (img, angle) in
             enumerate(zip(render(OUT / "digital-report.pdf", dpi), (1.2, -1.6, 0.9),
                           strict=True))]
    write_scanned_pdf(OUT / "scanned-report.pdf", scans, dpi)
    write_text(OUT / "scanned-report.txt", pages)

    # page.png: page 2 of the report at 150 dpi, fed into the scanner sideways.
    page = degrade(render(OUT / "digital-report.pdf", 150)[1], 0.6, seed=11)
    page = page.rotate(90, expand=True).quantize(colors=16, dither=Image.Dither.NONE)
    page.save(OUT / "page.png", format="PNG", optimize=True, dpi=(150, 150))
    write_text(OUT / "page.txt", [pages[1]])

    make_receipt(OUT / "receipt.png", dpi=200)
    write_text(OUT / "receipt.txt", [[line.rstrip() for line in RECEIPT_LINES if line.strip()]])

    (OUT / "note.md").write_text(NOTE_MD, encoding="utf-8")
    (OUT / "note.txt").write_text(NOTE_MD, encoding="utf-8")
    for path in sorted(OUT.iterdir()):
        print(f"{path.stat().st_size:>9,d}  {path.name}")


if __name__ == "__main__":
    main()
