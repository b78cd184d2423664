"""The ingest stage that turns a sniffed upload into raw page texts.

PDF pages are read from their text layer; pages whose text layer is missing or unusable (see
`textlayer.needs_ocr`) are rendered and read by OCR. Images are OCR'd frame by frame; text
and Markdown become a single page; Office, ODT, HTML and e-mail documents are converted to
Markdown page by page (`structured`: a slide, a sheet, a recorded page, or page 1). Pages
are produced lazily for OCR, so memory stays bounded by the OCR runner's look-ahead, not by
the document's length.

One page never sinks a document: a page whose text layer, image or OCR fails is kept without
text and with a failed `PageWarning` (see `ocr_pages`), and the others are read. Every page's
text is made storable (`ingest.storable`) before any later stage sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PIL import Image

from ingest.errors import IngestError, NoReadableText, TextLayerUnreadable
from ingest.images import open_image
from ingest.ocr import OcrPage
from ingest.ocr_pages import ocr_each
from ingest.ocr_pool import PageOcr
from ingest.pdf_warnings import collect_pdf_warnings
from ingest.sniff import decode_text
from ingest.storable import storable, storable_json, storable_text
from ingest.structured import structured_pages
from ingest.textlayer import PdfDoc, needs_ocr, open_pdf, render_page
from ingest.types import Limits, PageText, PageWarning, Sniffed, StructuredKind, TextLine

_STRUCTURED: tuple[StructuredKind, ...] = ("docx", "xlsx", "pptx", "odt", "html", "eml")

Progress = Callable[[int, int], None]


def read_pages(data: bytes, sniffed: Sniffed, *, limits: Limits, ocr: PageOcr,
               dpi: int = 200, on_page: Progress | None = None) -> list[PageText]:
    """Raw text of every page, in order (1-based `page_no`), with how each was obtained.

    `ocr` is anything with `map(images) -> Iterator[OcrPage]` (an `OcrPool`, or `SerialOcr`
    in-process); `dpi` is the resolution PDF pages are rendered at for OCR. `on_page(done,
    total)` is called after each page is finished. A page that cannot be read comes back
    without text, with a failed warning and its `failure`. Raises the errors of `open_pdf`,
    `open_image` and `structured_pages` (the document as a whole is unreadable), the first
    page's failure when no page has readable text and some failed, and NoReadableText when no
    page yields any letter or digit.
    """
    report: Progress = on_page or (lambda done, total: None)
    if sniffed.kind == "pdf":
        with collect_pdf_warnings():
            pages = _read_pdf(open_pdf(data, limits), ocr=ocr, dpi=dpi, limits=limits,
                              report=report)
    elif sniffed.kind in ("png", "jpeg", "tiff"):
        pages = _read_images(data, limits=limits, ocr=ocr, report=report)
    elif sniffed.kind in _STRUCTURED:
        texts = structured_pages(data, _STRUCTURED[_STRUCTURED.index(sniffed.kind)], limits,
                                 ocr=ocr)
        pages = [PageText(page_no=number, method="text", text=text, lines=_plain_lines(text),
                          printed=False) for number, text in enumerate(texts, start=1)]
        report(len(pages), len(pages))
    else:
        text = decode_text(data)
        pages = [PageText(page_no=1, method="text", text=text, lines=_plain_lines(text))]
        report(1, 1)
    pages = [_storable(page) for page in pages]
    if not any(has_readable_text(page.text) for page in pages):
        failure = next((page.failure for page in pages if page.failure is not None), None)
        if failure is not None:
            raise failure
        raise NoReadableText("no readable text was found in the document", pages=len(pages),
                             kind=sniffed.kind)
    return pages


def has_readable_text(text: str) -> bool:
    """Whether a page's text holds at least one letter or digit."""
    return any(ch.isalnum() for ch in text)


def page_warning(page_no: int, error: IngestError, *, failed: bool) -> PageWarning:
    """The warning of page `page_no` for `error`, its message and details made storable."""
    return PageWarning(page_no=page_no, code=error.code, message=storable_text(error.message),
                       details=storable_json(error.details), failed=failed)


def _read_pdf(doc: PdfDoc, *, ocr: PageOcr, dpi: int, limits: Limits,
              report: Progress) -> list[PageText]:
    total = doc.page_count
    pages: list[PageText | None] = [None] * total
    layer: dict[int, PageText] = {}
    done = 0
    for index in range(total):
        page = _text_layer(doc, index)
        if needs_ocr(page.text, doc.image_count(index)):
            layer[index] = page
        else:
            pages[index] = page
            done += 1
            report(done, total)

    def image_of(index: int) -> Image.Image:
        return render_page(doc.data, index, dpi, max_pixels=limits.max_image_pixels)

    for index, result in ocr_each(ocr, sorted(layer), image_of):
        pages[index] = _after_ocr(layer[index], result)
        done += 1
        report(done, total)
    return [page for page in pages if page is not None]


def _text_layer(doc: PdfDoc, index: int) -> PageText:
    """Page `index` as its text layer reads; without text (and warned) when pypdf fails."""
    try:
        lines = doc.page_lines(index)
    except TextLayerUnreadable as exc:
        warning = page_warning(index + 1, exc, failed=False)
        return PageText(page_no=index + 1, method="text", text="", warnings=[warning])
    return PageText(page_no=index + 1, method="text",
                    text="\n".join(line.text for line in lines), lines=lines)


def _after_ocr(layer: PageText, result: OcrPage | IngestError) -> PageText:
    """The page that OCR `result` leaves: its reading, or the text layer when OCR read nothing
    (or failed) and the layer has some text; failed when neither has any."""
    if isinstance(result, IngestError):
        failed = not has_readable_text(layer.text)
        warnings = [*layer.warnings, page_warning(layer.page_no, result, failed=failed)]
        return replace(layer, warnings=warnings, failure=result if failed else None)
    ocr_page = replace(_ocr_page(layer.page_no, result), warnings=layer.warnings)
    # OCR that reads nothing must not erase a (thin) text layer.
    keep_layer = not has_readable_text(ocr_page.text) and has_readable_text(layer.text)
    return layer if keep_layer else ocr_page


def _read_images(data: bytes, *, limits: Limits, ocr: PageOcr,
                 report: Progress) -> list[PageText]:
    doc = open_image(data, limits)
    pages: list[PageText | None] = [None] * doc.page_count
    for done, (index, result) in enumerate(ocr_each(ocr, range(doc.page_count), doc.frame),
                                           start=1):
        if isinstance(result, IngestError):
            pages[index] = PageText(page_no=index + 1, method="ocr", text="", failure=result,
                                    warnings=[page_warning(index + 1, result, failed=True)])
        else:
            pages[index] = _ocr_page(index + 1, result)
        report(done, doc.page_count)
    return [page for page in pages if page is not None]


def _ocr_page(page_no: int, result: OcrPage) -> PageText:
    return PageText(page_no=page_no, method="ocr", text=result.text,
                    lines=_plain_lines(result.text), ocr_confidence=result.mean_confidence,
                    ocr_psm=result.psm, rotation=result.rotation)


def _plain_lines(text: str) -> list[TextLine]:
    """Lines without font facts, for pages that have no text layer."""
    return [TextLine(text=line) for line in text.splitlines() if line.strip()]


def _storable(page: PageText) -> PageText:
    """`page` with its text and lines made storable, counting the characters removed."""
    text, removed = storable(page.text)
    if text == page.text:
        return page
    lines = [replace(line, text=clean) for line in page.lines
             if (clean := storable_text(line.text)).strip()]
    return replace(page, text=text, lines=lines, removed_chars=removed)
