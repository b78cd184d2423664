"""Deciding what an upload is from its bytes (never its name), before any expensive work.

The file name only tells plain text from Markdown, since both are just UTF-8; every other
decision is made on magic bytes, so a PNG called `report.pdf` is still read as a PNG.
"""

from __future__ import annotations

import re

from ingest.errors import EmptyFile, FileTooLarge, UnsupportedFileType
from ingest.types import DocumentKind, Limits, Sniffed

MIME: dict[DocumentKind, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
    "text": "text/plain",
    "markdown": "text/markdown",
}
_IMAGE_MAGIC: list[tuple[bytes, DocumentKind]] = [
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
]
# Formats people often upload that lectern does not read, named in the error.
_OTHER_MAGIC: list[tuple[bytes, str]] = [
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"PK\x03\x04", "ZIP archive (or DOCX/XLSX/ODT)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Microsoft Office document"),
    (b"\x1f\x8b", "gzip archive"),
    (b"BM", "BMP image"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000 image"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
]
_MARKDOWN_SUFFIXES = (".md", ".markdown")
_ATX_HEADING = re.compile(r"^#{1,6} ", re.MULTILINE)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f")


def sniff(data: bytes, filename: str | None, limits: Limits) -> Sniffed:
    """What the upload is: PDF, PNG, JPEG, TIFF, Markdown or plain UTF-8 text.

    Raises EmptyFile (no bytes, or text that is all whitespace), FileTooLarge (details:
    `size`, `limit`) or UnsupportedFileType (details: `detected`, a description of what
    the bytes look like).
    """
    if not data:
        raise EmptyFile("the file is empty", size=0)
    if len(data) > limits.max_bytes:
        raise FileTooLarge("the file is too large", size=len(data), limit=limits.max_bytes)
    if b"%PDF-" in data[:1024]:
        return _sniffed("pdf")
    for magic, kind in _IMAGE_MAGIC:
        if data.startswith(magic):
            return _sniffed(kind)
    text = _decode_text(data)
    if not text.strip():
        raise EmptyFile("the file holds only whitespace", size=len(data))
    name = (filename or "").lower()
    if name.endswith(_MARKDOWN_SUFFIXES) or _ATX_HEADING.search(text):
        return _sniffed("markdown")
    return _sniffed("text")


def decode_text(data: bytes) -> str:
    """The text of an upload that `sniff` judged to be text or Markdown (BOM removed)."""
    return _decode_text(data)


def _decode_text(data: bytes) -> str:
    """UTF-8 text, or UnsupportedFileType naming what the bytes seem to be instead."""
    text: str | None = None
    if b"\x00" not in data:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = None
    if text is not None:
        sample = text[:65536]
        controls = sum(1 for ch in sample if ch < " " and ch not in _ALLOWED_CONTROLS)
        if controls <= 0.01 * len(sample):
            return text
    detected = _describe(data)
    raise UnsupportedFileType(f"{detected} files are not supported", detected=detected)


def _describe(data: bytes) -> str:
    """A name for bytes that are not a supported kind, for the error message."""
    for magic, description in _OTHER_MAGIC:
        if data.startswith(magic):
            return description
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP image"
    return "binary (non-UTF-8) data"


def _sniffed(kind: DocumentKind) -> Sniffed:
    return Sniffed(kind=kind, mime=MIME[kind])
