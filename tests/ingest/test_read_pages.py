"""The read_pages stage end to end on real files, and the image loader's guards."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable, Iterator

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen.canvas import Canvas

from ingest.errors import CorruptDocument, ImageTooLarge, NoReadableText, TooManyPages
from ingest.images import open_image
from ingest.ocr import OcrPage, TesseractOcr
from ingest.ocr_pool import OcrPool, SerialOcr
from ingest.read_pages import read_pages
from ingest.sniff import sniff
from ingest.types import Limits, PageText
from tests.support.cer import SAMPLES, char_error_rate, normalize, reference_pages

LIMITS = Limits()


class CountingOcr:
    """Real Tesseract in-process, counting the pages it is handed."""

    def __init__(self) -> None:
        self.inner = SerialOcr(TesseractOcr())
        self.pages = 0

    def map(self, images: Iterable[Image.Image]) -> Iterator[OcrPage]:
        for image in images:
            self.pages += 1
            yield from self.inner.map([image])


def _read(data: bytes, name: str | None, ocr: CountingOcr | OcrPool,
          limits: Limits = LIMITS) -> tuple[list[PageText], list[tuple[int, int]]]:
    progress: list[tuple[int, int]] = []
    pages = read_pages(data, sniff(data, name, limits), limits=limits, ocr=ocr,
                       on_page=lambda done, total: progress.append((done, total)))
    return pages, progress


def _png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR claiming the given size, with almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = b"IDAT" + zlib.compress(b"\x00" * 64)
    body += struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat))
    return b"\x89PNG\r\n\x1a\n" + body


def _tiff(frames: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:],
                   compression="tiff_deflate", dpi=(200, 200))
    return buffer.getvalue()


def test_digital_report_uses_text_layer_only() -> None:
    ocr = CountingOcr()
    pages, progress = _read((SAMPLES / "digital-report.pdf").read_bytes(), "r.pdf", ocr)
    assert ocr.pages == 0
    assert [(p.page_no, p.method) for p in pages] == [(1, "text"), (2, "text"), (3, "text")]
    for page, reference in zip(pages, reference_pages("digital-report"), strict=True):
        assert normalize(page.text) == normalize(reference)
    assert pages[0].lines[0].font_size == pytest.approx(20.0)
    assert progress == [(1, 3), (2, 3), (3, 3)]


def test_scanned_report_is_ocred_through_the_pool() -> None:
    data = (SAMPLES / "scanned-report.pdf").read_bytes()
    with OcrPool(workers=2) as pool:
        pages, progress = _read(data, "scan.pdf", pool)
    assert [p.method for p in pages] == ["ocr"] * 3
    for page, reference in zip(pages, reference_pages("scanned-report"), strict=True):
        assert char_error_rate(reference, page.text) < 0.04
        assert page.ocr_psm == 3 and page.rotation == 0
        assert page.ocr_confidence is not None and page.ocr_confidence > 80
    assert progress == [(1, 3), (2, 3), (3, 3)]


def test_mixed_pdf_ocrs_only_the_scanned_page() -> None:
    writer = PdfWriter()
    writer.add_page(PdfReader(SAMPLES / "digital-report.pdf").pages[0])
    writer.add_page(PdfReader(SAMPLES / "scanned-report.pdf").pages[2])
    buffer = io.BytesIO()
    writer.write(buffer)
    ocr = CountingOcr()
    pages, progress = _read(buffer.getvalue(), None, ocr)
    assert [p.method for p in pages] == ["text", "ocr"]
    assert ocr.pages == 1
    assert char_error_rate(reference_pages("scanned-report")[2], pages[1].text) < 0.04
    assert progress == [(1, 2), (2, 2)]


def test_receipt_image() -> None:
    pages, progress = _read((SAMPLES / "receipt.png").read_bytes(), "receipt.png", CountingOcr())
    assert len(pages) == 1 and pages[0].method == "ocr"
    assert char_error_rate(reference_pages("receipt")[0], pages[0].text) < 0.03
    assert progress == [(1, 1)]


def test_multi_page_tiff_in_frame_order() -> None:
    with Image.open(SAMPLES / "receipt.png") as receipt:
        top = receipt.crop((0, 0, receipt.width, 200)).convert("L")
        total = receipt.crop((0, 560, receipt.width, 660)).convert("L")
    pages, progress = _read(_tiff([top, total]), "scan.tif", CountingOcr())
    assert "GREENLEAF MARKET" in pages[0].text
    assert "TOTAL" in pages[1].text and "GREENLEAF" not in pages[1].text
    assert [p.page_no for p in pages] == [1, 2]
    assert progress == [(1, 2), (2, 2)]


def test_markdown_and_text_are_single_pages() -> None:
    note = (SAMPLES / "note.md").read_bytes()
    pages, progress = _read(note, "note.md", CountingOcr())
    assert [(p.page_no, p.method, p.text) for p in pages] == [(1, "text", note.decode())]
    assert pages[0].lines[0].text == "# Team offsite notes"
    assert progress == [(1, 1)]


def test_blank_pdf_has_no_readable_text() -> None:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(300, 300))
    canvas.showPage()
    canvas.save()
    ocr = CountingOcr()
    with pytest.raises(NoReadableText) as caught:
        _read(buffer.getvalue(), "blank.pdf", ocr)
    assert ocr.pages == 1  # it did try OCR before giving up
    assert caught.value.http_status == 422


def test_blank_image_has_no_readable_text() -> None:
    buffer = io.BytesIO()
    Image.new("L", (400, 300), 255).save(buffer, format="PNG")
    with pytest.raises(NoReadableText):
        _read(buffer.getvalue(), "blank.png", CountingOcr())


def test_decompression_bomb_header_is_refused_before_decoding() -> None:
    bomb = _png_header(9_500, 9_500)  # 90 Mpx claimed in 100 bytes: Pillow only warns
    with pytest.raises(ImageTooLarge) as caught:
        _read(bomb, "bomb.png", CountingOcr())
    assert caught.value.details == {"width": 9500, "height": 9500, "pixels": 90_250_000,
                                    "limit": LIMITS.max_image_pixels}
    with pytest.raises(ImageTooLarge):  # 10 Gpx: Pillow's own bomb guard fires first
        open_image(_png_header(100_000, 100_000), LIMITS)


def test_large_real_image_over_a_low_limit() -> None:
    buffer = io.BytesIO()
    Image.new("L", (3000, 2000), 255).save(buffer, format="PNG")
    with pytest.raises(ImageTooLarge) as caught:
        open_image(buffer.getvalue(), Limits(max_image_pixels=5_000_000))
    assert caught.value.details["pixels"] == 6_000_000


def test_truncated_image_is_corrupt() -> None:
    data = (SAMPLES / "receipt.png").read_bytes()
    with pytest.raises(CorruptDocument):
        list(open_image(data[: len(data) // 2], LIMITS).frames())
    with pytest.raises(CorruptDocument):
        open_image(data[:20], LIMITS)


def test_too_many_tiff_frames() -> None:
    frames = [Image.new("L", (20, 20), 255) for _ in range(3)]
    with pytest.raises(TooManyPages) as caught:
        open_image(_tiff(frames), Limits(max_pages=2))
    assert caught.value.details == {"pages": 3, "limit": 2}


def test_transparent_png_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (50, 50), (0, 0, 0, 0))  # transparent black
    image.paste((0, 0, 0, 255), (10, 10, 20, 20))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    (frame,) = open_image(buffer.getvalue(), LIMITS).frames()
    assert frame.mode == "L"
    assert frame.getpixel((0, 0)) == 255 and frame.getpixel((15, 15)) == 0
