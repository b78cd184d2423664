"""Pictures inside DOCX, PPTX and ODT files read by OCR and placed where they sit.

The samples `notice.docx` and `returns.pptx` (written by `scripts/make_office_samples.py`)
hold a picture of text, a 32-pixel logo and a photograph without text; the real Tesseract
reads them through `SerialOcr`, wrapped to record which images reached OCR. The bounds are
checked on documents built here: a picture declaring too many pixels (never decoded), more
pictures than `max_images`, a picture in a table cell, an ODT's `Pictures/` member.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator

import docx
import pytest
from PIL import Image

from ingest.embedded_images import IMAGE_TEXT_LABEL, ImageBounds
from ingest.ocr import OcrPage, TesseractOcr
from ingest.ocr_pool import SerialOcr
from ingest.structured import structured_pages
from ingest.types import Limits, StructuredKind
from tests.support.cer import SAMPLES, char_error_rate, reference_pages
from tests.support.markdown_text import image_text, without_image_markers

LIMITS = Limits()
IMAGE_SAMPLES: dict[str, StructuredKind] = {"notice.docx": "docx", "returns.pptx": "pptx"}
IMAGE_CER_BOUND = 0.02


class RecordingOcr:
    """The real Tesseract in-process, noting the size of every image it is given."""

    def __init__(self) -> None:
        self.inner = SerialOcr(TesseractOcr())
        self.sizes: list[tuple[int, int]] = []

    def map(self, images: Iterable[Image.Image]) -> Iterator[OcrPage]:
        def noted() -> Iterator[Image.Image]:
            for image in images:
                self.sizes.append(image.size)
                yield image

        return self.inner.map(noted())


def text_png(lines: list[str]) -> bytes:
    """A clear picture of `lines` (DejaVu Sans, 40 px)."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 40)
    image = Image.new("L", (900, 80 * len(lines) + 40), 255)
    for index, line in enumerate(lines):
        ImageDraw.Draw(image).text((30, 30 + 80 * index), line, font=font, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(side: int = 40_000) -> bytes:
    """A PNG whose header declares side x side grey pixels, of which a few hundred bytes are
    stored: decoding it would take `side`² bytes of memory."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    rows = zlib.compress(b"\x00" + b"\xff" * side, 9) * 4  # a few rows; the rest missing
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)
            + chunk(b"IEND", b""))


def docx_with(pictures: list[bytes], *, in_table: bool = False) -> bytes:
    """A one-page DOCX: a paragraph, then each picture in its own paragraph (or all in one
    table cell), then a closing paragraph."""
    document = docx.Document()
    document.add_paragraph("Opening words.")
    if in_table:
        table = document.add_table(rows=2, cols=2)
        table.cell(0, 0).text, table.cell(1, 0).text = "Label", "Other"
        for picture in pictures:
            table.cell(0, 1).paragraphs[0].add_run().add_picture(io.BytesIO(picture))
    else:
        for picture in pictures:
            document.add_picture(io.BytesIO(picture))
    document.add_paragraph("Closing words.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("name", sorted(IMAGE_SAMPLES))
def test_picture_text_is_read_into_its_page_and_marked(name: str) -> None:
    ocr = RecordingOcr()
    pages = structured_pages((SAMPLES / name).read_bytes(), IMAGE_SAMPLES[name], LIMITS,
                             ocr=ocr)
    stem = name.rsplit(".", 1)[0]
    expected, expected_images = reference_pages(stem), reference_pages(f"{stem}.image-text")
    assert len(pages) == len(expected)
    rates = [char_error_rate(ref, without_image_markers(page))
             for ref, page in zip(expected, pages, strict=True)]
    image_rates = [char_error_rate(ref, image_text(page)) if ref.strip() else
                   float(bool(image_text(page)))
                   for ref, page in zip(expected_images, pages, strict=True)]
    print(f"{name}: CER per page {rates}, of the pictures' text {image_rates}")
    assert max(rates) <= IMAGE_CER_BOUND and max(image_rates) <= IMAGE_CER_BOUND
    page = next(p for p in pages if IMAGE_TEXT_LABEL in p)
    assert f"> {IMAGE_TEXT_LABEL} " in page
    # the 32-pixel logo never reached OCR; the text picture and the photo did
    assert len(ocr.sizes) == 2 and min(min(size) for size in ocr.sizes) > 100


def test_docx_picture_text_sits_between_the_paragraphs_around_it() -> None:
    pages = structured_pages((SAMPLES / "notice.docx").read_bytes(), "docx", LIMITS,
                             ocr=SerialOcr(TesseractOcr()))
    first = pages[0]
    assert (first.index("goods entrance") < first.index("DOCK 4 IS CLOSED")
            < first.index("morning briefing"))
    assert IMAGE_TEXT_LABEL not in pages[1]  # the photograph left nothing


def test_without_ocr_pictures_leave_nothing() -> None:
    pages = structured_pages((SAMPLES / "returns.pptx").read_bytes(), "pptx", LIMITS)
    assert pages[1] == "# New returns label"
    assert all("\ue000" not in page for page in pages)


def test_a_picture_declaring_too_many_pixels_is_never_decoded() -> None:
    data = docx_with([bomb_png(), text_png(["Pallet limit 900 kg"])])
    ocr = RecordingOcr()
    (page,) = structured_pages(data, "docx", LIMITS, ocr=ocr)
    assert ocr.sizes and all(w * h < 5_000_000 for w, h in ocr.sizes)
    assert "Pallet limit 900 kg" in page and "Closing words." in page


def test_only_max_images_pictures_are_read() -> None:
    data = docx_with([text_png(["First sign reads north"]), text_png(["Second sign reads south"])])
    ocr = RecordingOcr()
    (page,) = structured_pages(data, "docx", LIMITS, ocr=ocr,
                               image_bounds=ImageBounds(max_images=1))
    assert len(ocr.sizes) == 1
    assert "First sign reads north" in page and "south" not in page


def test_a_picture_in_a_table_cell_is_read_after_the_table() -> None:
    data = docx_with([text_png(["Bay 12 cold store"])], in_table=True)
    (page,) = structured_pages(data, "docx", LIMITS, ocr=SerialOcr(TesseractOcr()))
    lines = page.splitlines()
    table_end = max(i for i, line in enumerate(lines) if line.startswith("|"))
    quote = next(i for i, line in enumerate(lines) if line.startswith("> "))
    assert quote > table_end and "Bay 12 cold store" in lines[quote]
    assert "| Label |  |" in page


def test_odt_picture_under_pictures_is_read_where_it_is_anchored() -> None:
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
          'xmlns:xlink="http://www.w3.org/1999/xlink"')
    content = (f'<office:document-content {ns}><office:body><office:text>'
               "<text:p>Before the plan.</text:p><text:p><draw:frame><draw:image "
               'xlink:href="Pictures/plan.png"/></draw:frame></text:p>'
               "<text:p>After the plan.</text:p></office:text></office:body>"
               "</office:document-content>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
        archive.writestr("Pictures/plan.png", text_png(["Fire exit on level 2"]))
    (page,) = structured_pages(buffer.getvalue(), "odt", LIMITS, ocr=SerialOcr(TesseractOcr()))
    assert page.index("Before the plan.") < page.index(f"> {IMAGE_TEXT_LABEL} Fire exit")
    assert page.index("Fire exit on level 2") < page.index("After the plan.")


def test_xlsx_picture_is_read_onto_its_own_sheet_after_the_table() -> None:
    import openpyxl
    from openpyxl.drawing.image import Image as SheetImage

    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Plan"
    first.append(["Region", "Sales"])
    first.append(["North", 3])
    workbook.create_sheet("Other").append(["nothing pictured"])
    pictured = workbook.create_sheet("Targets")
    pictured.append(["Quarter"])
    pictured.add_image(SheetImage(io.BytesIO(text_png(["Target margin 12 percent"]))), "C2")
    buffer = io.BytesIO()
    workbook.save(buffer)
    pages = structured_pages(buffer.getvalue(), "xlsx", LIMITS, ocr=SerialOcr(TesseractOcr()))
    assert [IMAGE_TEXT_LABEL in page for page in pages] == [False, False, True]
    assert pages[2].endswith(f"> {IMAGE_TEXT_LABEL} Target margin 12 percent")
    assert pages[2].index("| Quarter |") < pages[2].index(IMAGE_TEXT_LABEL)
