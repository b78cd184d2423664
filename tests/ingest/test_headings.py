"""Heading recovery from text-layer fonts and from the shape of OCR/plain lines."""

from __future__ import annotations

from ingest.headings import (
    document_fonts,
    markdown_from_lines,
    markdown_from_plain,
    page_markdown,
)
from ingest.types import PageText, TextLine

BODY = "Revenue grew strongly across all regions during the year."


def test_lines_levels_follow_font_size_rank() -> None:
    lines = [
        TextLine("Annual Report", 24.0),
        TextLine(BODY, 10.0),
        TextLine("Financial Overview", 16.0),
        TextLine(BODY, 10.0),
        TextLine("Regional Detail", 12.5),
        TextLine(BODY, 10.0),
        TextLine("Northern Region", 10.0, bold=True),
        TextLine(BODY, 10.0),
    ]
    assert markdown_from_lines(lines).split("\n") == [
        "# Annual Report",
        BODY,
        "## Financial Overview",
        BODY,
        "### Regional Detail",
        BODY,
        "### Northern Region",
        BODY,
    ]


def test_lines_wrapped_heading_merges_and_sentences_stay_body() -> None:
    lines = [
        TextLine("Report of the Board", 18.0),
        TextLine("on the Year 2023", 18.0),
        TextLine(BODY, 10.0),
        TextLine("This bold sentence ends with a period.", 10.0, bold=True),
        TextLine("Page 3", 10.0),
        TextLine("42", 18.0),  # a large page number is not a heading
        TextLine(BODY, 10.0),
    ]
    assert markdown_from_lines(lines).split("\n") == [
        "# Report of the Board on the Year 2023",
        BODY,
        "This bold sentence ends with a period.",
        "Page 3",
        "42",
        BODY,
    ]


def test_plain_numbered_headings_get_levels_by_depth() -> None:
    text = "\n".join(
        [
            *("1 Introduction", BODY, "2.1 Revenue", BODY, "2.1.3 Costs by Unit", BODY),
            *("3. Method", BODY, "A. Appendix", BODY, "INTRODUCTORY REMARKS", BODY),
        ]
    )
    headings = [ln for ln in markdown_from_plain(text).split("\n") if ln.startswith("#")]
    assert headings == [
        "# 1 Introduction",
        "## 2.1 Revenue",
        "### 2.1.3 Costs by Unit",
        "# 3. Method",
        "# A. Appendix",
        "# INTRODUCTORY REMARKS",
    ]


def test_plain_receipt_lists_and_tables_are_not_headings() -> None:
    text = "\n".join(
        [
            "2 x Coffee 3.50",
            "1 Croissant 2.00",
            "2 apples 3.50",
            "TOTAL 9.00",
            "VAT 20% 1.50",
            "12 345 678",
            "1. Preheat the oven",
            "2. Mix the flour and sugar",
            "3 results were discarded because they were incomplete.",
            "A Tale of Two Cities",
        ]
    )
    assert markdown_from_plain(text) == text


def test_plain_keeps_existing_markdown_and_merges_wrapped_caps() -> None:
    text = "## Already Markdown\nANNUAL REPORT\nOF THE BOARD\n" + BODY
    assert markdown_from_plain(text).split("\n") == [
        "## Already Markdown",
        "# ANNUAL REPORT OF THE BOARD",
        BODY,
    ]


def test_page_markdown_prefers_lines_when_fonts_are_known() -> None:
    lines = [TextLine("Summary", 14.0), TextLine(BODY, 10.0)]
    page = PageText(page_no=1, method="text", text="Summary\n" + BODY, lines=lines)
    assert page_markdown(page) == "# Summary\n" + BODY
    ocr = PageText(page_no=2, method="ocr", text="4 Results\n" + BODY)
    assert page_markdown(ocr) == "# 4 Results\n" + BODY


def test_page_markdown_uses_line_shapes_when_fonts_show_no_heading() -> None:
    lines = [TextLine("2.1 Revenue", 10.0), TextLine(BODY, 10.0), TextLine("TOTAL 9.00", 10.0)]
    page = PageText(page_no=1, method="text", text="", lines=lines)
    assert page_markdown(page) == f"## 2.1 Revenue\n{BODY}\nTOTAL 9.00"
    no_fonts = [TextLine("4 Results"), TextLine(BODY)]  # OCR pages carry lines without fonts
    ocr = PageText(page_no=2, method="ocr", text="4 Results\n" + BODY, lines=no_fonts)
    assert page_markdown(ocr) == "# 4 Results\n" + BODY


def test_document_fonts_keep_levels_consistent_across_pages() -> None:
    first = PageText(
        page_no=1,
        method="text",
        text="",
        lines=[
            TextLine("Annual Report 2024", 20.0, bold=True),
            TextLine("1 Introduction", 15.0, bold=True),
            TextLine(BODY, 11.0),
            TextLine("1.1 Scope of this report", 12.5, bold=True),  # only 14% larger, but bold
            TextLine(BODY, 11.0),
            TextLine("Page 1 of 3", 9.0),
        ],
    )
    second = PageText(
        page_no=2,
        method="text",
        text="",
        lines=[TextLine("2 Results", 15.0, bold=True), TextLine(BODY, 11.0)],
    )
    fonts = document_fonts([first, second])
    assert page_markdown(first, fonts).split("\n") == [
        "# Annual Report 2024",
        "## 1 Introduction",
        BODY,
        "### 1.1 Scope of this report",
        BODY,
        "Page 1 of 3",
    ]
    assert page_markdown(second, fonts) == "## 2 Results\n" + BODY
    assert page_markdown(second) == "# 2 Results\n" + BODY  # alone, the page cannot know


def test_plain_ignores_ocr_specks_before_a_heading() -> None:
    text = f"{BODY}\n' 4 Conclusion\n{BODY}\n. North 2.9 3.8"
    assert markdown_from_plain(text).split("\n") == [
        BODY,
        "# 4 Conclusion",
        BODY,
        ". North 2.9 3.8",
    ]
