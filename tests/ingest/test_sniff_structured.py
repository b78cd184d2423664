"""Sniffing the structured kinds by content (ZIP manifests, markup, mail headers), and their
pages through `read_pages` and the pipeline: text pages that keep lines a PDF would drop as
running headers (a column header repeated on every sheet is content)."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from ingest.errors import CorruptDocument, UnsupportedFileType
from ingest.ocr import TesseractOcr
from ingest.ocr_pool import SerialOcr
from ingest.pipeline import IngestContext, run_ingest
from ingest.read_pages import read_pages
from ingest.sniff import MIME, sniff
from ingest.types import Limits
from tests.support.cer import SAMPLES
from tests.support.fake_embedder import HashEmbedder

LIMITS = Limits()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize("data", [
    b"<!DOCTYPE html><html><body><p>Hi</p></body></html>",
    b"\xef\xbb\xbf  <!-- saved page -->\n<html lang='en'><p>Hi</p></html>",
    b"<?xml version='1.0'?><!DOCTYPE html><html xmlns='http://www.w3.org/1999/xhtml'></html>",
    b"<div class='x'>\n<body>\n<p>Hi</p></body>",
])
def test_html_is_known_by_its_markup(data: bytes) -> None:
    assert sniff(data, "page.txt", LIMITS).kind == "html"


@pytest.mark.parametrize(("data", "kind"), [
    (b"# Notes\n\nSome <b>bold</b> text and a <div>block</div>.\n", "markdown"),
    (b"<b>Bold</b> first, but no html, head or body tag.\n", "text"),
    (b"Use <html> tags in the template.\n", "text"),
])
def test_text_with_a_little_markup_stays_text(data: bytes, kind: str) -> None:
    assert sniff(data, None, LIMITS).kind == kind


def test_email_is_known_by_its_header_block() -> None:
    data = (SAMPLES / "shipping-update.eml").read_bytes()
    assert sniff(data, "mail.txt", LIMITS) == sniff(data, None, LIMITS)
    assert sniff(data, None, LIMITS).mime == "message/rfc822"
    folded = b"Received: from mx\n  by host; Mon, 3 Mar 2025\nFrom: a@b\nSubject: Hi\n\nBody\n"
    assert sniff(folded, None, LIMITS).kind == "eml"


@pytest.mark.parametrize("data", [
    b"From: the desk of the CEO\n\nNo other headers here.\n",
    b"Subject: notes\nAuthor: me\n\ntext\n",
    b"Dear team,\nFrom: a@b\nSubject: x\nDate: y\n",
])
def test_text_that_only_looks_a_little_like_mail_stays_text(data: bytes) -> None:
    assert sniff(data, None, LIMITS).kind == "text"


def test_office_and_odf_kinds_come_from_the_manifest_not_the_name() -> None:
    for name, kind in (("memo.docx", "docx"), ("sales.xlsx", "xlsx"),
                       ("briefing.pptx", "pptx"), ("minutes.odt", "odt")):
        sniffed = sniff((SAMPLES / name).read_bytes(), "renamed.zip", LIMITS)
        assert (sniffed.kind, sniffed.mime) == (kind, MIME[kind])


@pytest.mark.parametrize(("members", "detected"), [
    ({"notes.txt": b"hello"}, "ZIP archive"),
    ({"[Content_Types].xml": b"<Types><Override ContentType='application/vnd.ms-word."
      b"document.macroEnabled.main+xml'/></Types>"}, "Office Open XML package of another type"),
    ({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"},
     "OpenDocument file (application/vnd.oasis.opendocument.spreadsheet)"),
])
def test_other_zips_are_unsupported_and_named(members: dict[str, bytes], detected: str) -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        sniff(_zip(members), None, LIMITS)
    assert caught.value.details["detected"] == detected and caught.value.http_status == 415


def test_broken_zip_is_corrupt_only_when_it_shows_office_parts() -> None:
    with pytest.raises(UnsupportedFileType):
        sniff(b"PK\x03\x04" + bytes(200), None, LIMITS)
    with pytest.raises(CorruptDocument) as caught:
        sniff(b"PK\x03\x04" + bytes(22) + b"\x13\x00\x00\x00[Content_Types].xml" + bytes(40),
              None, LIMITS)
    assert caught.value.http_status == 422


def test_read_pages_gives_text_pages_numbered_from_one() -> None:
    data = (SAMPLES / "briefing.pptx").read_bytes()
    seen: list[tuple[int, int]] = []
    pages = read_pages(data, sniff(data, None, LIMITS), limits=LIMITS,
                       ocr=SerialOcr(TesseractOcr()),
                       on_page=lambda done, total: seen.append((done, total)))
    assert [(p.page_no, p.method, p.printed) for p in pages] == [
        (1, "text", False), (2, "text", False), (3, "text", False)]
    assert seen == [(3, 3)]


def test_a_header_row_on_every_sheet_is_not_dropped_as_a_running_line() -> None:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for month in ("January", "February", "March", "April"):
        sheet = workbook.create_sheet(month)
        sheet.append(["Store", "Orders", "Returns"])
        sheet.append(["Leeds", len(month), 3])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    result = run_ingest(data, sniff(data, None, LIMITS), IngestContext(embedder=HashEmbedder()))
    assert result.running_lines_dropped == 0
    assert all("| Store | Orders | Returns |" in page.text for page in result.pages)
    assert [chunk.page_start for chunk in result.chunks] == [1, 2, 3, 4]
