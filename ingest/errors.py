"""Errors of the ingest package: one base, structured details, and the outward HTTP status.

Every stage of `ingest` (sniffing, text layer, OCR, chunking, embedding, ...) raises a subclass of
`IngestError`, so callers can turn any of them into the API error body
`{"error": {"code": ..., "message": ..., "details": {...}}}` without knowing the stage.
Errors survive pickling (they cross the OCR process pool), details included.

`StructuredError` holds those mechanics once for every package: `retrieval` and `pipelines` base
their own errors on it too (`pipelines.llm`, which imports nothing of the project, keeps its own).
"""

from __future__ import annotations

from typing import Any


def _rebuild(cls: type[StructuredError], message: str, details: dict[str, Any]) -> StructuredError:
    """Recreate an error on the far side of a process boundary (see `__reduce__` below)."""
    return cls(message, **details)


class StructuredError(Exception):
    """What every package's error base shares: a message, JSON-friendly structured `details`, a
    machine-readable `code`, the outward `http_status`, and pickling that keeps the details.

    Not raised itself: each package subclasses it once (`IngestError`, `RetrievalError`,
    `PipelineError`) and raises subclasses of that base. It lives here because `ingest` is the
    package every other one may import.
    """

    code: str = "error"
    http_status: int = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))

    def to_dict(self) -> dict[str, Any]:
        """The body of an API error response for this error."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class IngestError(StructuredError):
    """Base of every error raised by `ingest`; `details` holds JSON-friendly structured fields."""

    code = "ingest_error"
    http_status = 500


class EmptyFile(IngestError):
    """The upload holds zero bytes (or nothing but whitespace where text was expected)."""

    code = "empty_file"
    http_status = 400


class UnsupportedFileType(IngestError):
    """The bytes are none of the kinds lectern reads (PDF, PNG, JPEG, TIFF, UTF-8 text)."""

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
