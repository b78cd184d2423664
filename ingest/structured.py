"""Structured documents (DOCX, XLSX, PPTX, ODT, HTML, EML) → page texts, within the limits.

One door for the formats whose text comes from their own structure rather than a layout:
ZIP containers are opened within `Limits.max_unpacked_bytes` first (`packages.open_package`),
then the format's reader (`docx_pages`, `xlsx_pages`, `pptx_pages`, `odt_pages`, `html_pages`,
`eml_pages`) gives one Markdown text per page: the document's recorded pages for DOCX and ODT,
a sheet for XLSX, a slide for PPTX, page 1 for HTML and e-mail. Pictures in DOCX, PPTX, ODT
and XLSX files are read by OCR when an `ocr` is given, their text put where they sit
(`embedded_images`); the readers only mark where they are.

The format libraries raise whatever they meet in a damaged file (KeyError for a missing part,
lxml's XMLSyntaxError, BadZipFile, ValueError, ...); every such error is a CorruptDocument
here, so a broken upload fails as `corrupt_document`, never as an internal error.
"""

from __future__ import annotations

from collections.abc import Callable

from ingest.docx_pages import docx_pages
from ingest.embedded_images import DEFAULT_IMAGE_BOUNDS, ImageBounds, resolve_image_marks
from ingest.eml_pages import eml_pages
from ingest.errors import CorruptDocument, IngestError, TooManyPages
from ingest.html_pages import html_pages
from ingest.ocr_pool import PageOcr
from ingest.odt_pages import odt_pages
from ingest.packages import open_package
from ingest.pptx_pages import pptx_pages
from ingest.types import Limits, StructuredKind
from ingest.xlsx_pages import xlsx_pages

_NAMES: dict[StructuredKind, str] = {"docx": "Word document", "xlsx": "Excel workbook",
                                     "pptx": "PowerPoint presentation", "odt": "ODT document",
                                     "html": "HTML document", "eml": "e-mail message"}


def structured_pages(data: bytes, kind: StructuredKind, limits: Limits, *,
                     ocr: PageOcr | None = None,
                     image_bounds: ImageBounds = DEFAULT_IMAGE_BOUNDS) -> list[str]:
    """The Markdown text of each page of a structured document, at least one page.

    `ocr` reads the text of embedded pictures within `image_bounds` (without it they are left
    out). Raises ArchiveTooLarge (a ZIP bomb), TooManyPages (details: `pages`, `limit`) and
    CorruptDocument (details: `reason`, the library's words).
    """
    read = _reader(kind, limits, ocr, image_bounds)
    try:
        pages = read(data)
    except (IngestError, MemoryError):
        raise
    except Exception as exc:  # the libraries' own errors for damaged input: many types
        raise CorruptDocument(f"the {_NAMES[kind]} cannot be read",
                              reason=f"{type(exc).__name__}: {exc}"[:300]) from exc
    if len(pages) > limits.max_pages:
        raise TooManyPages(f"the {_NAMES[kind]} has too many pages", pages=len(pages),
                           limit=limits.max_pages)
    return pages or [""]


def _reader(kind: StructuredKind, limits: Limits, ocr: PageOcr | None,
            image_bounds: ImageBounds) -> Callable[[bytes], list[str]]:
    """The function reading `kind`; ZIP kinds check the archive's bounds before reading and
    have their pictures' marks resolved after."""
    if kind == "html":
        return html_pages
    if kind == "eml":
        return eml_pages

    def zipped(data: bytes) -> list[str]:
        archive = open_package(data, limits)
        if kind == "docx":
            pages = docx_pages(data)
        elif kind == "xlsx":
            pages = xlsx_pages(data, limits, archive)
        elif kind == "pptx":
            pages = pptx_pages(data, limits)
        else:
            pages = odt_pages(archive)
        return resolve_image_marks(pages, archive, ocr, limits, image_bounds)

    return zipped
