"""Sniffing decides the kind of an upload from its bytes; errors carry codes and statuses."""

from __future__ import annotations

import io
import pickle
import zipfile

import pytest
from PIL import Image

from ingest.errors import EmptyFile, FileTooLarge, IngestError, UnsupportedFileType
from ingest.sniff import decode_text, sniff
from ingest.types import Limits
from tests.support.cer import SAMPLES

LIMITS = Limits()


def _image_bytes(fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (40, 30), 255).save(buffer, format=fmt, **params)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "kind", "mime"),
    [
        ("digital-report.pdf", "pdf", "application/pdf"),
        ("scanned-report.pdf", "pdf", "application/pdf"),
        ("page.png", "png", "image/png"),
        ("receipt.png", "png", "image/png"),
        ("note.md", "markdown", "text/markdown"),
        ("digital-report.txt", "text", "text/plain"),
    ],
)
def test_samples_are_sniffed_by_content(name: str, kind: str, mime: str) -> None:
    sniffed = sniff((SAMPLES / name).read_bytes(), name, LIMITS)
    assert (sniffed.kind, sniffed.mime) == (kind, mime)


def test_png_named_pdf_is_still_png() -> None:
    data = (SAMPLES / "receipt.png").read_bytes()
    assert sniff(data, "invoice.pdf", LIMITS).kind == "png"
    assert sniff(data, None, LIMITS).kind == "png"


def test_jpeg_and_both_tiff_byte_orders() -> None:
    assert sniff(_image_bytes("JPEG"), "x.bin", LIMITS).kind == "jpeg"
    assert sniff(_image_bytes("TIFF"), None, LIMITS).kind == "tiff"
    big_endian = b"MM\x00*" + _image_bytes("TIFF")[4:]
    assert sniff(big_endian, None, LIMITS).kind == "tiff"


def test_pdf_header_must_be_in_first_kilobyte() -> None:
    pdf = (SAMPLES / "digital-report.pdf").read_bytes()
    assert sniff(b"junk before header\n" + pdf, None, LIMITS).kind == "pdf"
    with pytest.raises(UnsupportedFileType):
        sniff(b"\x01\x02" * 600 + pdf, None, LIMITS)


def test_markdown_by_heading_or_name() -> None:
    assert sniff(b"# Title\n\nBody text.\n", None, LIMITS).kind == "markdown"
    assert sniff(b"###### Deep heading\n", "notes.txt", LIMITS).kind == "markdown"
    assert sniff(b"Plain text, no heading.\n", "notes.markdown", LIMITS).kind == "markdown"
    assert sniff(b"#hashtag is not a heading\n", "notes.txt", LIMITS).kind == "text"


def test_text_starting_like_a_magic_number_is_text() -> None:
    assert sniff(b"BMW annual report\n", "bmw.txt", LIMITS).kind == "text"
    assert decode_text(b"\xef\xbb\xbfCaf\xc3\xa9 menu\n") == "Café menu\n"


def test_empty_and_whitespace_only() -> None:
    with pytest.raises(EmptyFile) as caught:
        sniff(b"", "a.pdf", LIMITS)
    assert (caught.value.code, caught.value.http_status) == ("empty_file", 400)
    with pytest.raises(EmptyFile):
        sniff(b" \n\t\n", "a.txt", LIMITS)


def test_too_large_reports_size_and_limit() -> None:
    with pytest.raises(FileTooLarge) as caught:
        sniff(b"x" * 101, "a.txt", Limits(max_bytes=100))
    assert caught.value.http_status == 413
    assert caught.value.details == {"size": 101, "limit": 100}


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (bytes(range(256)) * 8, "binary (non-UTF-8) data"),
        ("Café crème".encode("latin-1"), "binary (non-UTF-8) data"),
        ("hello".encode("utf-16"), "UTF-16 text"),
        (b"GIF89a" + bytes(range(256)), "GIF image"),
        (b"text\x00with a NUL", "binary (non-UTF-8) data"),
        (b"\x01\x02\x03\x04\x05 mostly control characters", "binary (non-UTF-8) data"),
    ],
)
def test_unsupported_bytes_name_what_was_detected(data: bytes, detected: str) -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        sniff(data, "upload.txt", LIMITS)
    assert caught.value.http_status == 415
    assert caught.value.details["detected"] == detected


def test_zip_is_named_as_such() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(UnsupportedFileType) as caught:
        sniff(buffer.getvalue(), "report.docx", LIMITS)
    assert "ZIP" in caught.value.details["detected"]


def test_errors_keep_fields_across_pickling() -> None:
    error = FileTooLarge("the file is too large", size=5, limit=4)
    clone = pickle.loads(pickle.dumps(error))
    assert isinstance(clone, FileTooLarge) and isinstance(clone, IngestError)
    assert (clone.message, clone.details) == (error.message, error.details)
    assert clone.to_dict() == {"error": {"code": "file_too_large",
                                         "message": "the file is too large",
                                         "details": {"size": 5, "limit": 4}}}
