"""Deciding what an upload is from its bytes (never its name), before any expensive work.

The file name only tells plain text from Markdown, since both are just UTF-8; every other
decision is made on content, so a PNG called `report.pdf` is still read as a PNG: magic bytes
for PDF and images, the manifest inside a ZIP for Office and ODF files (`packages`), a header
block for e-mail, the markup at the start for HTML.
"""

from __future__ import annotations

import re

from ingest.errors import EmptyFile, FileTooLarge, UnsupportedFileType
from ingest.packages import ZIP_MAGIC, package_kind
from ingest.types import DocumentKind, Limits, Sniffed

MIME: dict[DocumentKind, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
    "text": "text/plain",
    "markdown": "text/markdown",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "html": "text/html",
    "eml": "message/rfc822",
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
_MAIL_HEADER = re.compile(rb"^([A-Za-z][A-Za-z0-9-]{0,40}):[ \t]*\S?")
_MAIL_CONTINUATION = re.compile(rb"^[ \t]+\S")
_MAIL_HEADERS = frozenset({
    b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"received", b"mime-version",
    b"return-path", b"reply-to", b"delivered-to", b"content-type", b"x-mailer", b"sender",
    b"in-reply-to", b"references"})
_HTML_START = (b"<!doctype html", b"<html")
_HTML_TAG = re.compile(rb"<(?:html|head|body)[\s>]")
_LEADING_MARKUP = re.compile(rb"^(?:\s+|<!--.*?-->|<\?xml[^>]*\?>)+", re.DOTALL)


def sniff(data: bytes, filename: str | None, limits: Limits) -> Sniffed:
    """What the upload is: PDF, PNG, JPEG, TIFF, DOCX, XLSX, PPTX, ODT, e-mail, HTML, Markdown
    or plain UTF-8 text.

    Raises EmptyFile (no bytes, or text that is all whitespace), FileTooLarge (details:
    `size`, `limit`), UnsupportedFileType (details: `detected`, a description of what
    the bytes look like), and for ZIP containers ArchiveTooLarge (a decompression bomb) or
    CorruptDocument (an Office file whose ZIP is broken).
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
    if data.startswith(ZIP_MAGIC):
        return _sniffed(package_kind(data, limits))
    if looks_like_email(data):
        return _sniffed("eml")
    if looks_like_html(data):
        return _sniffed("html")
    text = _decode_text(data)
    if not text.strip():
        raise EmptyFile("the file holds only whitespace", size=len(data))
    name = (filename or "").lower()
    if name.endswith(_MARKDOWN_SUFFIXES) or _ATX_HEADING.search(text):
        return _sniffed("markdown")
    return _sniffed("text")


def looks_like_email(data: bytes) -> bool:
    """Whether `data` opens with an RFC 5322 header block naming From and a Subject or Date."""
    names: set[bytes] = set()
    for index, line in enumerate(data[:16384].splitlines()):
        if not line.strip():
            break
        match = _MAIL_HEADER.match(line)
        if match:
            names.add(match[1].lower())
        elif index == 0 or not _MAIL_CONTINUATION.match(line):
            return False
    known = names & _MAIL_HEADERS
    return b"from" in names and bool(names & {b"subject", b"date"}) and len(known) >= 3


def looks_like_html(data: bytes) -> bool:
    """Whether the bytes open (after a BOM, blanks, comments, an XML declaration) with an HTML
    doctype or `<html>`, or with a tag and hold `<html>`, `<head>` or `<body>` early on: a
    Markdown note with an inline `<div>` stays Markdown."""
    head = data[:4096].removeprefix(b"\xef\xbb\xbf").lower()
    head = _LEADING_MARKUP.sub(b"", head, count=1)
    return head.startswith(_HTML_START) or (head.startswith(b"<")
                                            and _HTML_TAG.search(head) is not None)


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
