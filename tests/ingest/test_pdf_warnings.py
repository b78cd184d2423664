"""pypdf's warnings while a document is read: counted into one line, not dumped one by one.

What reaches the root logger's handlers (where a deployment's log output is) is recorded by a
handler of the test's own: pytest's `caplog` also hooks itself onto non-propagating loggers
such as `pypdf`, so it would see records that a deployment's handlers never do.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

from ingest.ocr_pool import SerialOcr
from ingest.pdf_warnings import collect_pdf_warnings
from ingest.read_pages import read_pages
from ingest.sniff import sniff
from ingest.types import Limits
from tests.support.odd_pdfs import EngineRaisingOn


def _bad_fonts_pdf(pages: int) -> bytes:
    """Pages whose font resources are a number, which pypdf warns about on every page."""
    writer = PdfWriter()
    for n in range(pages):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): NumberObject(5)})
        content = DecodedStreamObject()
        content.set_data(f"BT /F1 12 Tf 72 700 Td (Page {n} says hello) Tj ET".encode())
        page.replace_contents(content)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


class Records(logging.Handler):
    """Keeps every record handed to it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def named(self, prefix: str) -> list[str]:
        """The messages of the records from loggers whose names start with `prefix`."""
        return [r.getMessage() for r in self.records if r.name.startswith(prefix)]


@pytest.fixture
def root() -> Iterator[Records]:
    """What the root logger's handlers receive during the test."""
    records = Records()
    logging.getLogger().addHandler(records)
    yield records
    logging.getLogger().removeHandler(records)


def test_a_documents_pypdf_warnings_become_one_line(root: Records) -> None:
    data = _bad_fonts_pdf(3)
    pages = read_pages(data, sniff(data, "f.pdf", Limits()), limits=Limits(),
                       ocr=SerialOcr(EngineRaisingOn(min_width=10**6)))
    assert len(pages) == 3 and root.named("pypdf") == []
    (summary,) = root.named("ingest.pdf_warnings")
    assert summary.startswith("pypdf reported 3 problem(s) in the text layer, the first: Font")
    assert len(summary) < 200


def test_pypdf_warnings_outside_a_document_pass_through(root: Records) -> None:
    page = PdfReader(io.BytesIO(_bad_fonts_pdf(1))).pages[0]
    root.records.clear()  # opening it may warn already, outside any document
    with collect_pdf_warnings() as tally:
        page.extract_text()
    assert tally.count == 1 and root.named("pypdf") == []
    page.extract_text()
    assert root.named("pypdf") == ["Font resources are not a dictionary: 5"]
