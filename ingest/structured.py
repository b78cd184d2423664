"""Structured documents (DOCX, XLSX, PPTX, ODT, HTML, EML) → page texts, within the limits.

One door for the formats whose text comes from their own structure rather than a layout:
ZIP containers are opened within `Limits.max_unpacked_bytes` first (`packages.open_package`),
then the format's reader (`docx_pages`, `xlsx_pages`, `pptx_pages`, `odt_pages`, `html_pages`,
`eml_pages`) gives one Markdown text per page: the document's recorded pages for DOCX and ODT,
a sheet for XLSX, a slide for PPTX, page 1 for HTML and e-mail.

The format libraries raise whatever they meet in a damaged file (KeyError for a missing part,
lxml's XMLSyntaxError, BadZipFile, ValueError, ...); every such error is a CorruptDocument
here, so a broken upload fails as `corrupt_document`, never as an internal error.
"""

from __future__ import annotations

from collections.abc import Callable

from ingest.docx_pages import docx_pages
from ingest.eml_pages import eml_pages
from ingest.errors import CorruptDocument, IngestError, TooManyPages
from ingest.html_pages import html_pages
from ingest.odt_pages import odt_pages
from ingest.packages import open_package
from ingest.pptx_pages import pptx_pages
from ingest.types import Limits, StructuredKind
from ingest.xlsx_pages import xlsx_pages

_NAMES: dict[StructuredKind, str] = {"docx": "Word document", "xlsx": "Excel workbook",
                                     "pptx": "PowerPoint presentation", "odt": "ODT document",
                                     "html": "HTML document", "eml": "e-mail message"}


def structured_pages(data: bytes, kind: StructuredKind, limits: Limits) -> list[str]:
    """The Markdown text of each page of a structured document, at least one page.

    Raises ArchiveTooLarge (a ZIP bomb), TooManyPages (details: `pages`, `limit`) and
    CorruptDocument (details: `reason`, the library's words).
    """
    read = _reader(kind, limits)
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


def _reader(kind: StructuredKind, limits: Limits) -> Callable[[bytes], list[str]]:
    """The function reading `kind`; ZIP kinds check the archive's bounds before reading."""
    if kind == "html":
        return html_pages
    if kind == "eml":
        return eml_pages

    def zipped(data: bytes) -> list[str]:
        archive = open_package(data, limits)
        if kind == "docx":
            return docx_pages(data)
        if kind == "xlsx":
            return xlsx_pages(data, limits)
        if kind == "pptx":
            return pptx_pages(data, limits)
        return odt_pages(archive)

    return zipped
