"""The ingest stage that turns a sniffed upload into raw page texts.

PDF pages are read from their text layer; pages whose text layer is missing or unusable (see
`textlayer.needs_ocr`) are rendered and read by OCR. Images are OCR'd frame by frame; text
and Markdown become a single page. Pages are produced lazily for OCR, so memory stays
bounded by the OCR runner's look-ahead, not by the document's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PIL import Image

from ingest.errors import NoReadableText
from ingest.images import open_image
from ingest.ocr import OcrPage
from ingest.ocr_pool import PageOcr
from ingest.sniff import decode_text
from ingest.textlayer import PdfDoc, needs_ocr, open_pdf, render_page
from ingest.types import Limits, PageText, Sniffed, TextLine

Progress = Callable[[int, int], None]


def read_pages(data: bytes, sniffed: Sniffed, *, limits: Limits, ocr: PageOcr,
               dpi: int = 200, on_page: Progress | None = None) -> list[PageText]:
    """Raw text of every page, in order (1-based `page_no`), with how each was obtained.

    `ocr` is anything with `map(images) -> Iterator[OcrPage]` (an `OcrPool`, or `SerialOcr`
    in-process); `dpi` is the resolution PDF pages are rendered at for OCR. `on_page(done,
    total)` is called after each page is finished. Raises the errors of `open_pdf` and
    `open_image`, `OcrFailed`, and NoReadableText when no page yields any letter or digit.
    """
    report: Progress = on_page or (lambda done, total: None)
    if sniffed.kind == "pdf":
        pages = _read_pdf(open_pdf(data, limits), ocr=ocr, dpi=dpi, limits=limits,
                          report=report)
    elif sniffed.kind in ("png", "jpeg", "tiff"):
        pages = _read_images(data, limits=limits, ocr=ocr, report=report)
    else:
        text = decode_text(data)
        pages = [PageText(page_no=1, method="text", text=text, lines=_plain_lines(text))]
        report(1, 1)
    if not any(has_readable_text(page.text) for page in pages):
        raise NoReadableText("no readable text was found in the document", pages=len(pages),
                             kind=sniffed.kind)
    return pages


def has_readable_text(text: str) -> bool:
    """Whether a page's text holds at least one letter or digit."""
    return any(ch.isalnum() for ch in text)


def _read_pdf(doc: PdfDoc, *, ocr: PageOcr, dpi: int, limits: Limits,
              report: Progress) -> list[PageText]:
    total = doc.page_count
    pages: list[PageText | None] = [None] * total
    layer: dict[int, PageText] = {}
    done = 0
    for index in range(total):
        lines = doc.page_lines(index)
        page = PageText(page_no=index + 1, method="text",
                        text="\n".join(line.text for line in lines), lines=lines)
        if needs_ocr(page.text, doc.image_count(index)):
            layer[index] = page
        else:
            pages[index] = page
            done += 1
            report(done, total)

    to_ocr = sorted(layer)

    def images() -> Iterator[Image.Image]:
        for index in to_ocr:
            yield render_page(doc.data, index, dpi, max_pixels=limits.max_image_pixels)

    for index, result in zip(to_ocr, ocr.map(images()), strict=True):
        fallback = layer[index]
        ocr_page = _ocr_page(index + 1, result)
        # OCR that reads nothing must not erase a (thin) text layer.
        keep_layer = not has_readable_text(ocr_page.text) and has_readable_text(fallback.text)
        pages[index] = fallback if keep_layer else ocr_page
        done += 1
        report(done, total)
    return [page for page in pages if page is not None]


def _read_images(data: bytes, *, limits: Limits, ocr: PageOcr,
                 report: Progress) -> list[PageText]:
    doc = open_image(data, limits)
    pages: list[PageText] = []
    for number, result in enumerate(ocr.map(doc.frames()), start=1):
        pages.append(_ocr_page(number, result))
        report(number, doc.page_count)
    return pages


def _ocr_page(page_no: int, result: OcrPage) -> PageText:
    return PageText(page_no=page_no, method="ocr", text=result.text,
                    lines=_plain_lines(result.text), ocr_confidence=result.mean_confidence,
                    ocr_psm=result.psm, rotation=result.rotation)


def _plain_lines(text: str) -> list[TextLine]:
    """Lines without font facts, for pages that have no text layer."""
    return [TextLine(text=line) for line in text.splitlines() if line.strip()]
