"""OCR with the real Tesseract: accuracy on the samples, orientation, the psm 6 retry, the pool.

Measured on this machine (Tesseract 5.3, 200 dpi, despeckled): scanned-report CER per page
about 0.004 / 0.018 / 0.004 (page 2 holds the noisy table), receipt 0.006, page.png (scanned
sideways, 150 dpi) 0.023. The bounds below leave headroom for other Tesseract builds.
"""

from __future__ import annotations

import functools
import io
import os
import subprocess
import time

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

from ingest.errors import OcrFailed
from ingest.images import character_size, uncovered_text_ratio
from ingest.ocr import OcrPage, TesseractOcr
from ingest.ocr_pool import OcrPool, SerialOcr
from ingest.textlayer import render_page
from tests.support.cer import SAMPLES, char_error_rate, reference_pages

SCANNED = (SAMPLES / "scanned-report.pdf").read_bytes()
BILL_ROWS = [("Item", "Qty", "Price", "Amount"),
             ("Consulting services", "10", "150.00", "1500.00"),
             ("Travel", "1", "320.50", "320.50"),
             ("Hosting", "12", "19.99", "239.88"),
             ("Total", "", "", "2060.38")]


def _plain_tesseract(image: Image.Image, psm: int = 3) -> str:
    """The text of one plain Tesseract pass at `psm` (no despeckling, enlarging, orientation
    check or retry): the baseline each recovery of `TesseractOcr.read` must beat."""
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="PPM")
    dpi = round(float(image.info.get("dpi", (200,))[0]))
    done = subprocess.run(["tesseract", "stdin", "stdout", "--dpi", str(dpi), "--psm", str(psm),
                           "-l", "eng"], input=buffer.getvalue(), capture_output=True, check=True,
                          env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    return done.stdout.decode("utf-8")


def _bill(dpi: int = 200) -> Image.Image:
    """An invoice table whose narrow 'Qty' column Tesseract's psm 3 drops entirely."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=letter)
    canvas.setFont("Helvetica", 10)
    for row, cells in enumerate(BILL_ROWS):
        for x, cell in zip((72, 300, 380, 460), cells, strict=True):
            canvas.drawString(x, 700 - 16 * row, cell)
    canvas.showPage()
    canvas.save()
    page = pdfium.PdfDocument(buffer.getvalue())[0]
    image: Image.Image = page.render(scale=dpi / 72).to_pil().convert("L")
    image.info["dpi"] = (dpi, dpi)
    return image


def _receipt_header() -> Image.Image:
    """The top of the receipt sample: a small, quick page."""
    with Image.open(SAMPLES / "receipt.png") as receipt:
        return receipt.crop((0, 0, receipt.width, 200))


class PidEngine:
    """Answers with its process id and OMP_THREAD_LIMIT, slowly enough to keep workers busy."""

    def read(self, image: Image.Image) -> OcrPage:
        time.sleep(0.3)
        text = f"{os.getpid()} {os.environ.get('OMP_THREAD_LIMIT')} {image.width}"
        return OcrPage(text, 100.0, 3, 3, 0)


class CrashOnTinyImage:
    """Reads like Tesseract, but its process dies on a 1x1 image (a stand-in for a segfault)."""

    def read(self, image: Image.Image) -> OcrPage:
        if image.size == (1, 1):
            os._exit(3)
        return TesseractOcr().read(image)


def test_scanned_report_through_pool_in_order_on_two_processes() -> None:
    references = reference_pages("scanned-report")
    images = [render_page(SCANNED, i, 200) for i in range(3)]
    with OcrPool(workers=2) as pool:
        pages = list(pool.map(images))
        assert len(pool.pids_seen) == 2 and os.getpid() not in pool.pids_seen
    assert len(pages) == 3
    for page, reference in zip(pages, references, strict=True):
        # in order: each page matches its own text
        assert char_error_rate(reference, page.text) < 0.04
        assert (page.psm, page.rotation) == (3, 0)
        assert page.mean_confidence > 80
    assert "Total revenue rose to $48.2 million in 2024" in pages[1].text


def test_receipt() -> None:
    page = TesseractOcr().read(Image.open(SAMPLES / "receipt.png"))
    assert char_error_rate(reference_pages("receipt")[0], page.text) < 0.03
    assert "GREENLEAF MARKET" in page.text
    assert any(line.split() == ["TOTAL", "39.97"] for line in page.text.splitlines())
    assert page.scale == 1, "characters of normal size are read as they are"


def _shrunk(image: Image.Image, factor: float) -> Image.Image:
    small = image.resize((round(image.width * factor), round(image.height * factor)),
                         Image.Resampling.LANCZOS)
    small.info["dpi"] = tuple(d * factor for d in image.info["dpi"])
    return small


def test_small_characters_are_read_enlarged() -> None:
    small = _shrunk(Image.open(SAMPLES / "receipt.png"), 0.4)  # a 80 dpi photo of it
    reference, engine = reference_pages("receipt")[0], TesseractOcr()
    misread = _plain_tesseract(small)
    assert char_error_rate(reference, misread) > 0.08, "precondition: misread"
    page = engine.read(small)
    assert page.scale == 2
    assert char_error_rate(reference, page.text) < 0.03


def test_character_size_follows_the_print_not_the_orientation() -> None:
    gray = Image.open(SAMPLES / "receipt.png").convert("L")
    size = character_size(gray)
    assert 12 <= size <= 20
    assert character_size(gray.rotate(90, expand=True)) == size
    assert abs(character_size(_shrunk(Image.open(SAMPLES / "receipt.png"), 0.5)) - size / 2) <= 1
    assert character_size(Image.new("L", (200, 100), 255)) == 0.0


def test_sideways_page_is_turned_upright() -> None:
    page = TesseractOcr().read(Image.open(SAMPLES / "page.png"))
    assert page.rotation == 90
    assert char_error_rate(reference_pages("page")[0], page.text) < 0.06


def test_dropped_column_is_recovered_with_psm_6() -> None:
    engine, bill = TesseractOcr(), _bill()
    first = _plain_tesseract(bill, psm=3)
    assert "Qty" not in first, "precondition: psm 3 drops the Qty column"
    page = engine.read(bill)
    assert page.psm == 6
    lines = [line.split() for line in page.text.splitlines()]
    assert ["Item", "Qty", "Price", "Amount"] in lines
    assert ["Hosting", "12", "19.99", "239.88"] in lines


def test_text_on_grey_background_is_recovered_by_local_threshold() -> None:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(400, 200))
    canvas.setFont("Helvetica", 11)
    canvas.drawString(20, 175, "Opening hours for the summer season:")
    canvas.setFillGray(0.55)
    canvas.rect(15, 20, 370, 140, stroke=0, fill=1)
    canvas.setFillGray(0)
    for row, text in enumerate(["Monday to Friday 9:00 to 18:00", "Sunday closed"]):
        canvas.drawString(25, 140 - 22 * row, text)
    canvas.showPage()
    canvas.save()
    image = pdfium.PdfDocument(buffer.getvalue())[0].render(scale=200 / 72).to_pil()
    engine = TesseractOcr()
    assert "Sunday" not in _plain_tesseract(image), "precondition: psm 3 loses the box"
    page = engine.read(image)
    assert page.psm == 6
    assert "Monday to Friday 9:00 to 18:00" in page.text and "Sunday closed" in page.text


def test_uncovered_ink_detects_missing_block() -> None:
    page = Image.new("L", (1000, 600), 255)
    draw = ImageDraw.Draw(page)
    blocks = [(100, 100 + 40 * i, 500, 120 + 40 * i) for i in range(5)]
    blocks += [(700, 100 + 40 * i, 760, 120 + 40 * i) for i in range(5)]  # a narrow column
    for box in blocks:
        draw.rectangle(box, fill=0)
    for x in range(50, 950, 37):  # dust: isolated 2x2 specks
        draw.rectangle((x, 550, x + 1, 551), fill=0)
    assert uncovered_text_ratio(page, blocks, dpi=200) == 0.0
    missing_column = uncovered_text_ratio(page, blocks[:5], dpi=200)
    assert 0.05 < missing_column < 0.3
    assert uncovered_text_ratio(page, [], dpi=200) == 1.0
    assert uncovered_text_ratio(Image.new("L", (500, 500), 255), [], dpi=200) == 0.0


def test_blank_page_reads_as_empty() -> None:
    page = TesseractOcr().read(Image.new("L", (800, 1000), 250))
    assert (page.text, page.word_count, page.mean_confidence) == ("", 0, 0.0)


def test_engine_failure_is_ocr_failed() -> None:
    with pytest.raises(OcrFailed) as caught:
        TesseractOcr(lang="no_such_language").read(_bill(100))
    assert "no_such_language" in caught.value.details["stderr"]
    with pytest.raises(OcrFailed):
        TesseractOcr(tesseract_cmd="/nonexistent/tesseract").read(_bill(100))


def test_pool_workers_limit_openmp_threads() -> None:
    images = [Image.new("L", (10 + i, 10), 255) for i in range(6)]
    with OcrPool(workers=2, engine_factory=PidEngine) as pool:
        texts = [page.text.split() for page in pool.map(images)]
    assert [int(width) for _pid, _limit, width in texts] == [10, 11, 12, 13, 14, 15]
    assert {limit for _pid, limit, _width in texts} == {"1"}
    assert len({pid for pid, _limit, _width in texts}) == 2


def test_pool_worker_crash_is_an_error_not_a_hang() -> None:
    tiny, header = Image.new("L", (1, 1), 255), _receipt_header()
    with OcrPool(workers=1, engine_factory=CrashOnTinyImage, page_timeout=60) as pool:
        started = time.monotonic()
        with pytest.raises(OcrFailed, match="died"):
            list(pool.map([tiny, header]))
        assert time.monotonic() - started < 30
        again = list(pool.map([header]))  # the pool starts a fresh worker afterwards
    assert "GREENLEAF MARKET" in again[0].text


def test_pool_passes_worker_errors_through() -> None:
    factory = functools.partial(TesseractOcr, lang="no_such_language")
    with OcrPool(workers=1, engine_factory=factory) as pool, pytest.raises(OcrFailed) as caught:
        list(pool.map([_bill(100)]))
    assert caught.value.details["returncode"] != 0


def test_serial_ocr_matches_engine() -> None:
    image = _receipt_header()
    engine = TesseractOcr()
    assert list(SerialOcr(engine).map([image])) == [engine.read(image)]
