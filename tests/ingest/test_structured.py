"""Structured documents (DOCX, XLSX, PPTX, ODT, HTML, EML) read into page texts.

Each sample in `samples/` is read and compared with its expected text (`<name>.txt`, written
by `scripts/make_office_samples.py` from the content, not from the reader): page count, the
character error rate of each page's text with the Markdown markup taken off, and the headings
and tables the Markdown must hold. Damaged files must fail as `corrupt_document`, bombs as
`archive_too_large`, too many slides or sheets as `too_many_pages`.
"""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from ingest.errors import ArchiveTooLarge, CorruptDocument, TooManyPages
from ingest.sniff import sniff
from ingest.structured import structured_pages
from ingest.types import Limits, StructuredKind
from tests.support.cer import SAMPLES, char_error_rate, reference_pages
from tests.support.markdown_text import plain_text

LIMITS = Limits()
STRUCTURED_SAMPLES: dict[str, StructuredKind] = {
    "memo.docx": "docx", "sales.xlsx": "xlsx", "briefing.pptx": "pptx", "faq.html": "html",
    "minutes.odt": "odt", "shipping-update.eml": "eml"}
CER_BOUND = 0.005
def _pages(name: str, limits: Limits = LIMITS) -> list[str]:
    data = (SAMPLES / name).read_bytes()
    return structured_pages(data, STRUCTURED_SAMPLES[name], limits)


@pytest.mark.parametrize("name", sorted(STRUCTURED_SAMPLES))
def test_sample_is_sniffed_by_content_whatever_its_name(name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    assert sniff(data, "upload.bin", LIMITS).kind == STRUCTURED_SAMPLES[name]


@pytest.mark.parametrize("name", sorted(STRUCTURED_SAMPLES))
def test_sample_text_matches_its_expected_text_page_by_page(name: str) -> None:
    pages = _pages(name)
    expected = reference_pages(name.rsplit(".", 1)[0])
    assert len(pages) == len(expected)
    rates = [char_error_rate(ref, plain_text(page)) for ref, page in zip(expected, pages,
                                                                          strict=True)]
    print(f"{name}: CER per page {[round(rate, 4) for rate in rates]}")
    assert max(rates) <= CER_BOUND, (name, rates)


def test_docx_headings_tables_and_its_own_page_break() -> None:
    first, second = _pages("memo.docx")
    assert first.startswith("# Leeds Distribution Centre Opening Plan\n")
    assert "\n# 1 Summary\n" in first and "\n## 1.1 Staffing\n" in first
    assert "- 6 team leaders" in first
    assert second.startswith("# 2 Budget\n")
    assert ("| Item | Cost | Supplier |\n| --- | --- | --- |\n| Racking | 1,250 | Mecalux |"
            in second)


def test_xlsx_is_one_page_per_sheet_with_its_cells_as_a_table() -> None:
    revenue, stores, notes = _pages("sales.xlsx")
    assert revenue.startswith("# Revenue\n\n| Region | Q1 | Q2 | Q3 | Q4 |\n| --- |")
    assert "| North | 2.9 | 3.8 | 4.6 | 4.1 |" in revenue
    assert "| Northwind Leeds | Leeds | 2021-09-17 | 22 |" in stores
    assert notes.startswith("# Notes\n")


def test_pptx_is_one_page_per_slide_titled_with_notes_and_tables() -> None:
    pages = _pages("briefing.pptx")
    assert [page.splitlines()[0] for page in pages] == [
        "# Northwind Outfitters 2025 Outlook", "# Priorities for 2025", "# Revenue forecast"]
    assert "- Same-day delivery in Manchester and Glasgow" in pages[1]
    assert "## Notes\n\nThe Leeds opening is on budget" in pages[1]
    assert "| Quarter | Revenue ($m) |\n| --- | --- |\n| Q1 | 10.2 |" in pages[2]


def test_html_keeps_headings_tables_and_lists_and_drops_scripts_styles_and_menus() -> None:
    (page,) = _pages("faq.html")
    assert page.startswith("# Returns and Exchanges\n")
    assert "## Refund times" in page and "| Card | 3 to 5 working days |" in page
    assert "- Gas canisters for camping stoves" in page
    assert "analytics" not in page and "font-family" not in page and "Shop" not in page


def test_html_without_h1_takes_its_title_and_reads_its_charset() -> None:
    data = ('<html><head><meta charset="windows-1252"><title>Caf\xe9 menu</title></head>'
            "<body><p>Cr\xe8me br\xfbl\xe9e</p></body></html>").encode("cp1252")
    assert sniff(data, None, LIMITS).kind == "html"
    assert structured_pages(data, "html", LIMITS) == ["# Café menu\n\nCrème brûlée"]


def test_odt_keeps_outline_levels_and_its_recorded_page_end() -> None:
    first, second = _pages("minutes.odt")
    assert first.startswith("# Safety Committee Minutes\n") and "## Attendees" in first
    assert second.startswith("## Actions\n\n| Action | Owner | Due |")


def test_eml_has_the_subject_as_heading_the_plain_body_and_attachment_names() -> None:
    (page,) = _pages("shipping-update.eml")
    assert page.startswith("# Leeds centre starts shipping on 14 April\n\nFrom: Dana")
    assert "Orders placed before 2 pm will leave the same day." in page
    assert "<p>" not in page and page.endswith("Attachments: launch-orders.csv")


@pytest.mark.parametrize("name", ["sales.xlsx", "briefing.pptx"])
def test_slides_and_sheets_count_as_pages_against_the_limit(name: str) -> None:
    with pytest.raises(TooManyPages) as caught:
        _pages(name, Limits(max_pages=2))
    assert caught.value.details == {"pages": 3, "limit": 2}


def _rewritten(name: str, member: str, content: bytes) -> bytes:
    """The sample's ZIP with one member's bytes replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(SAMPLES / name) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, content if info.filename == member else source.read(info))
    return out.getvalue()


@pytest.mark.parametrize(("name", "member"), [
    ("memo.docx", "word/document.xml"), ("sales.xlsx", "xl/workbook.xml"),
    ("sales.xlsx", "xl/worksheets/sheet1.xml"), ("briefing.pptx", "ppt/slides/slide2.xml"),
    ("briefing.pptx", "ppt/presentation.xml"), ("minutes.odt", "content.xml")])
def test_damaged_part_is_corrupt_document(name: str, member: str) -> None:
    data = _rewritten(name, member, b"<not really xml")
    with pytest.raises(CorruptDocument) as caught:
        structured_pages(data, sniff(data, name, LIMITS).kind, LIMITS)  # type: ignore[arg-type]
    assert caught.value.code == "corrupt_document" and caught.value.details["reason"]


@pytest.mark.parametrize("name", ["memo.docx", "sales.xlsx", "briefing.pptx", "minutes.odt"])
def test_truncated_office_file_is_corrupt_document_at_upload(name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    with pytest.raises(CorruptDocument):
        sniff(data[: len(data) // 2], name, LIMITS)


def test_missing_part_is_corrupt_document() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(SAMPLES / "memo.docx") as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                target.writestr(info, source.read(info))
    with pytest.raises(CorruptDocument):
        structured_pages(out.getvalue(), "docx", LIMITS)


def test_zip_bomb_is_refused_before_anything_is_decompressed() -> None:
    """A 257 MiB member of zeros (about 256 KiB compressed) behind a real DOCX manifest."""
    out = io.BytesIO()
    with zipfile.ZipFile(SAMPLES / "memo.docx") as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        target.writestr("[Content_Types].xml", source.read("[Content_Types].xml"))
        with target.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = bytes(1024 * 1024)
            for _ in range(257):
                member.write(chunk)
    data = out.getvalue()
    assert len(data) < 1024 * 1024
    with pytest.raises(ArchiveTooLarge) as caught:
        sniff(data, "bomb.docx", LIMITS)
    assert caught.value.http_status == 422
    assert caught.value.details["unpacked"] > caught.value.details["limit"] == 256 * 1024 * 1024
    with pytest.raises(ArchiveTooLarge):
        structured_pages(data, "docx", LIMITS)


def test_too_many_members_is_a_bomb_too() -> None:
    data = (SAMPLES / "memo.docx").read_bytes()
    with pytest.raises(ArchiveTooLarge) as caught:
        sniff(data, None, Limits(max_archive_members=5))
    assert caught.value.details["member_limit"] == 5


def test_docx_splits_at_words_rendered_page_ends_and_reads_links_merges_not_deletions() -> None:
    document = docx.Document()
    document.add_paragraph("First page text.")
    second = document.add_paragraph()
    second._p.append(parse_xml(
        f'<w:r {nsdecls("w")}><w:lastRenderedPageBreak/><w:t>Second page, </w:t></w:r>'))
    second._p.append(parse_xml(
        f'<w:hyperlink {nsdecls("w")}><w:r><w:t>linked words</w:t></w:r></w:hyperlink>'))
    second._p.append(parse_xml(
        f'<w:del {nsdecls("w")} w:id="1" w:author="x"><w:r><w:delText>gone</w:delText></w:r>'
        "</w:del>"))
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Merged"
    table.cell(0, 2).text = "C"
    for col, text in enumerate(("a", "b", "c")):
        table.cell(1, col).text = text
    buffer = io.BytesIO()
    document.save(buffer)
    first, page_two = structured_pages(buffer.getvalue(), "docx", LIMITS)
    assert first == "First page text."
    assert page_two.startswith("Second page, linked words\n\n| Merged |  | C |")
    assert "gone" not in page_two
