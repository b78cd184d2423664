"""Errors of the ingest package, under one base with structured details and the HTTP status.

Every stage of `ingest` (sniffing, text layer, OCR, chunking, embedding, ...) raises a subclass of
`IngestError`, so callers can turn any of them into the API error body
`{"error": {"code": ..., "message": ..., "details": {...}}}` without knowing the stage.
The mechanics (details, pickling across the OCR process pool) are `core.LecternError`'s.
"""

from __future__ import annotations

from core import LecternError


class IngestError(LecternError):
    """Base of every error raised by `ingest`; `details` holds JSON-friendly structured fields."""

    code = "ingest_error"
    http_status = 500


class EmptyFile(IngestError):
    """The upload holds zero bytes (or nothing but whitespace where text was expected)."""

    code = "empty_file"
    http_status = 400


class UnsupportedFileType(IngestError):
    """The bytes are none of the kinds lectern reads (PDF, images, Office, HTML, e-mail, text)."""

    code = "unsupported_file_type"
    http_status = 415


class FileTooLarge(IngestError):
    """The upload is over `Limits.max_bytes`; details: `size`, `limit`."""

    code = "file_too_large"
    http_status = 413


class TooManyPages(IngestError):
    """The document has more pages (or image frames) than `Limits.max_pages`."""

    code = "too_many_pages"
    http_status = 422


class CorruptDocument(IngestError):
    """The file claims a known format but cannot be parsed (truncated, damaged, garbage)."""

    code = "corrupt_document"
    http_status = 422


class ArchiveTooLarge(IngestError):
    """A ZIP container (DOCX, XLSX, PPTX, ODT) whose members would expand past
    `Limits.max_unpacked_bytes` or number more than `Limits.max_archive_members`: refused before
    any member is decompressed, as a decompression bomb; details: `unpacked`, `members`, `limit`."""

    code = "archive_too_large"
    http_status = 422


class EncryptedDocument(IngestError):
    """The PDF is encrypted and cannot be opened without a password."""

    code = "encrypted_document"
    http_status = 422


class ImageTooLarge(IngestError):
    """An image (or rendered page) would exceed `Limits.max_image_pixels`: a decompression bomb."""

    code = "image_too_large"
    http_status = 422


class NoReadableText(IngestError):
    """Neither the text layer nor OCR found any readable text in the document."""

    code = "no_readable_text"
    http_status = 422


class OcrFailed(IngestError):
    """The OCR engine or one of its worker processes failed (crash, timeout, bad output)."""

    code = "ocr_failed"
    http_status = 500


class TextLayerUnreadable(IngestError):
    """pypdf could not read one page's text layer (a damaged content stream or font); the page
    is read by OCR instead, and the document's warnings say so."""

    code = "text_layer_unreadable"
    http_status = 422


class InvalidMetadata(IngestError):
    """Document metadata that cannot be stored and served back as given (not an object, nested
    too deeply, a non-finite number, an unstorable character): refused before any row exists."""

    code = "invalid_metadata"
    http_status = 422
