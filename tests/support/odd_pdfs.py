"""Small PDFs with the oddities real documents have, built at test time.

- `raw_text_pdf`: pages whose text layer shows exactly the bytes given, in Helvetica with
  WinAnsiEncoding, so that a byte 0 reads as U+0000 (reportlab replaces such characters, so
  the content stream is written by hand);
- `picture_pdf`: pages of the given sizes with a black box and no text layer at all, which
  ingestion OCRs; their rendered widths tell a fake OCR engine which page it is reading;
- `EngineRaisingOn`: a picklable fake `OcrEngine` that reads a fixed line, and fails on
  images from a given width up.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject
from reportlab.pdfgen.canvas import Canvas

from ingest.errors import OcrFailed
from ingest.ocr import OcrPage


def raw_text_pdf(*lines: bytes) -> bytes:
    """One page per entry, each showing that PDF string (escapes such as `\\000` allowed)."""
    writer = PdfWriter()
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
        NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
    })
    for line in lines:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        content = DecodedStreamObject()
        content.set_data(b"BT /F1 12 Tf 72 700 Td (" + line + b") Tj ET")
        page.replace_contents(content)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def picture_pdf(widths: list[int], height: int = 300) -> bytes:
    """One page per width (in points), each a black box on white with no text layer."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    for width in widths:
        canvas.setPageSize((width, height))
        canvas.rect(20, 20, width - 40, height - 40, fill=1)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@dataclass(frozen=True)
class EngineRaisingOn:
    """An `OcrEngine` that reads "Scanned page reads fine" on every image, and raises
    `OcrFailed` on images at least `min_width` pixels wide (the wide page of a `picture_pdf`)."""

    min_width: int

    def read(self, image: Image.Image) -> OcrPage:
        """See `OcrEngine.read`."""
        if image.width >= self.min_width:
            raise OcrFailed("the engine choked on this page", width=image.width)
        return OcrPage("Scanned page reads fine", 91.0, 4, psm=3, rotation=0)
