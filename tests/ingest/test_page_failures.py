"""One page never sinks a document: a page whose text layer, image or OCR fails is kept without
text and with a failed warning, and the other pages are read (`read_pages`, `ocr_each`)."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from PIL import Image

from ingest import textlayer
from ingest.errors import OcrFailed
from ingest.ocr import OcrPage
from ingest.ocr_pages import ocr_each
from ingest.ocr_pool import OcrPool, SerialOcr
from ingest.read_pages import read_pages
from ingest.sniff import sniff
from ingest.types import Limits, PageText
from tests.ingest.test_ocr import CrashOnTinyImage, _receipt_header
from tests.support.odd_pdfs import EngineRaisingOn, picture_pdf, raw_text_pdf

FINE = "Scanned page reads fine"
LIMITS = Limits()


def _read(data: bytes, name: str, engine: EngineRaisingOn,
          limits: Limits = LIMITS) -> list[PageText]:
    return read_pages(data, sniff(data, name, limits), limits=limits, ocr=SerialOcr(engine))


def _tiff(frames: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    return buffer.getvalue()


def test_ocr_failure_on_page_two_fails_that_page_only() -> None:
    pages = _read(picture_pdf([200, 400, 200]), "scan.pdf", EngineRaisingOn(min_width=1000))
    assert [page.text for page in pages] == [FINE, "", FINE]
    assert pages[0].warnings == pages[2].warnings == []
    (warning,) = pages[1].warnings
    assert (warning.page_no, warning.code, warning.failed) == (2, "ocr_failed", True)
    assert warning.details["width"] > 1000 and isinstance(pages[1].failure, OcrFailed)


def test_a_document_whose_every_page_fails_raises_the_first_failure() -> None:
    with pytest.raises(OcrFailed):
        _read(picture_pdf([400, 400]), "scan.pdf", EngineRaisingOn(min_width=0))


def test_an_oversized_tiff_frame_fails_alone() -> None:
    small, large = Image.new("L", (100, 100), 255), Image.new("L", (400, 400), 255)
    pages = _read(_tiff([small, large, small]), "scan.tif", EngineRaisingOn(min_width=10**6),
                  Limits(max_image_pixels=50_000))
    assert [page.text for page in pages] == [FINE, "", FINE]
    (warning,) = pages[1].warnings
    assert (warning.code, warning.failed, warning.details["pixels"]) == (
        "image_too_large", True, 160_000)


def test_an_unreadable_text_layer_is_read_by_ocr_and_warned(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = textlayer.extract_lines

    def pypdf_fails_on_page_two(page: Any) -> list[textlayer.TextLine]:
        lines = real(page)
        if any("two" in line.text for line in lines):
            raise KeyError("/Widths")  # what pypdf raises on some damaged fonts
        return lines

    monkeypatch.setattr(textlayer, "extract_lines", pypdf_fails_on_page_two)
    data = raw_text_pdf(b"The first page of the report", b"The page two of it")
    pages = _read(data, "r.pdf", EngineRaisingOn(min_width=10**6))
    assert [(page.method, page.text) for page in pages] == [
        ("text", "The first page of the report"), ("ocr", FINE)]
    (warning,) = pages[1].warnings
    assert (warning.code, warning.failed) == ("text_layer_unreadable", False)
    assert "/Widths" in warning.details["reason"] and pages[1].failure is None


class DyingPool:
    """A `PageOcr` like a pool of two workers: it reads two pages at a time, and a poisoned
    image (one pixel wide) kills it, losing both pages in flight."""

    def __init__(self) -> None:
        self.read: list[int] = []

    def map(self, images: Iterable[Image.Image]) -> Iterator[OcrPage]:
        source = iter(images)
        while batch := list(itertools.islice(source, 2)):
            if any(image.width == 1 for image in batch):
                raise OcrFailed("an OCR worker process died")
            for image in batch:
                self.read.append(image.height)
                yield OcrPage(f"page {image.height}", 90.0, 2, psm=3, rotation=0)


def test_ocr_each_rereads_a_page_lost_with_another_and_gives_up_the_culprit() -> None:
    def image_of(page: int) -> Image.Image:
        return Image.new("L", (1 if page == 2 else 5, 10 * page), 255)

    pool = DyingPool()
    results = dict(ocr_each(pool, [1, 2, 3, 4], image_of))
    assert {page: getattr(r, "text", None) for page, r in results.items()} == {
        1: "page 10", 2: None, 3: "page 30", 4: "page 40"}
    assert isinstance(results[2], OcrFailed)
    assert pool.read == [10, 30, 40]  # page 1, lost with page 2, was read again on its own


def test_a_worker_dying_on_one_page_costs_that_page_only() -> None:
    header = _receipt_header().convert("L")
    data = _tiff([header, Image.new("L", (1, 1), 255), header])
    with OcrPool(workers=1, engine_factory=CrashOnTinyImage, page_timeout=60) as pool:
        pages = read_pages(data, sniff(data, "scan.tif", LIMITS), limits=LIMITS, ocr=pool)
    assert "GREENLEAF MARKET" in pages[0].text and "GREENLEAF MARKET" in pages[2].text
    (warning,) = pages[1].warnings
    assert (warning.code, warning.failed, pages[1].text) == ("ocr_failed", True, "")
    assert "died" in warning.message
