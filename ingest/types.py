"""Values that flow between the ingest stages.

Each stage is a plain function `(input, ctx) -> output`; these dataclasses are the inputs and
outputs, kept free of I/O so every stage can be tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ingest.errors import IngestError

DocumentKind = Literal["pdf", "png", "jpeg", "tiff", "text", "markdown",
                       "docx", "xlsx", "pptx", "odt", "html", "eml"]
StructuredKind = Literal["docx", "xlsx", "pptx", "odt", "html", "eml"]
"""Kinds whose text comes from their own structure (styles, cells, slides, markup), not a layout."""
PageMethod = Literal["text", "ocr"]
CleanupStatus = Literal["applied", "skipped", "rejected"]

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_PAGES = 500
MAX_IMAGE_PIXELS = 89_478_485
"""Pillow's own decompression-bomb threshold; an A4 page at 300 DPI is about 8.7 MP."""
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
"""What the members of one ZIP container (DOCX, XLSX, PPTX, ODT) may expand to, all together."""
MAX_ARCHIVE_MEMBERS = 10_000


@dataclass(frozen=True)
class Limits:
    """Bounds on what one upload may hold; enforced before any expensive work."""

    max_bytes: int = MAX_UPLOAD_BYTES
    max_pages: int = MAX_PAGES
    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES
    max_archive_members: int = MAX_ARCHIVE_MEMBERS


@dataclass(frozen=True)
class Sniffed:
    """What the bytes are, decided by content rather than by file name."""

    kind: DocumentKind
    mime: str


@dataclass(frozen=True)
class TextLine:
    """One line of a PDF text layer with the font facts used to recover headings."""

    text: str
    font_size: float | None = None
    bold: bool = False


@dataclass(frozen=True)
class PageWarning:
    """Something that went wrong reading one page, in the shape of an API error plus its page.

    `failed` means the page has no text because of it (the rest of the document is still
    read); otherwise the page was read another way (e.g. OCR after an unreadable text layer).
    """

    page_no: int
    code: str
    message: str
    details: dict[str, Any]
    failed: bool

    def error(self) -> dict[str, Any]:
        """As an API error object: `{"code", "message", "details"}` (stored on a failed page)."""
        return {"code": self.code, "message": self.message, "details": self.details}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in `documents.warnings` and shown by the API."""
        return {"page": self.page_no, **self.error(), "failed": self.failed}


@dataclass
class PageText:
    """The raw text of one page and how it was obtained (1-based `page_no`).

    `removed_chars` counts the characters dropped to make the text storable
    (`ingest.storable`); `warnings` says what went wrong reading the page, and `failure` is
    the error that left it without text, if any (raised for the document when no page at all
    could be read).
    """

    page_no: int
    method: PageMethod
    text: str
    lines: list[TextLine] = field(default_factory=list)
    ocr_confidence: float | None = None
    ocr_psm: int | None = None
    rotation: int | None = None
    removed_chars: int = 0
    warnings: list[PageWarning] = field(default_factory=list)
    failure: IngestError | None = None
    printed: bool = True
    """Whether the page comes from a printed layout (PDF, scan, text) that may repeat running
    headers and footers; False for a slide, sheet or structured document, whose headers and
    footers are not in the text read, so repeated lines (a sheet's column names) are content."""


@dataclass
class CleanPage:
    """A page after cleanup: `text` is what gets chunked, `raw_text` is kept for audit."""

    page_no: int
    method: PageMethod
    raw_text: str
    text: str
    cleanup: CleanupStatus
    cleanup_reason: str | None = None
    ocr_confidence: float | None = None
    error: dict[str, Any] | None = None
    """Why the page has no text, when reading it failed: `{"code", "message", "details"}`."""


@dataclass(frozen=True)
class Chunk:
    """A section-aware piece of a document, sized in the embedder's own tokens.

    `char_start`/`char_end` index into the document text made by joining the cleaned pages
    with `PAGE_SEPARATOR`; `embed_text` is `text` prefixed with its section heading path.
    """

    ordinal: int
    text: str
    embed_text: str
    section_path: tuple[str, ...]
    page_start: int
    page_end: int
    char_start: int
    char_end: int
    token_count: int


PAGE_SEPARATOR = "\n\n"
