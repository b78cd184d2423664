"""Running headers and footers: found by recurrence at page edges, never by a one-off match,
and kept on the first page they appear on."""

from __future__ import annotations

from ingest.running_lines import drop_running_lines, line_key, running_lines
from ingest.types import PageText, TextLine

HEADER = "ACME Corp — Annual Report 2024"


WORDS = ["revenue", "margin", "staff", "plant", "cash", "debt", "risk", "audit", "board", "tax",
         "grid", "fleet", "rent", "wage"]


def _body(n: int, lines: int = 4) -> list[str]:
    """Distinct prose lines for page `n`, as real body text is."""
    return [f"The {WORDS[(3 * n + k) % 14]} of unit {WORDS[(n + 5 * k) % 14]} changed by "
            f"{n * 7 + k}%." for k in range(lines)]


def _report(pages: int = 5) -> list[list[str]]:
    return [[HEADER, *_body(n), f"Page {n} of {pages}"] for n in range(1, pages + 1)]


def _kept(pages: list[list[str]]) -> list[list[str]]:
    drops = running_lines(pages)
    return [
        [ln for i, ln in enumerate(lines) if i not in gone]
        for lines, gone in zip(pages, drops, strict=True)
    ]


def test_digits_are_normalised_so_page_counters_match() -> None:
    assert line_key("Page 3 of 12") == line_key("page 4  of 12") == "page # of #"


def test_running_header_and_page_footer_are_dropped_after_their_first_page() -> None:
    pages = _report(5)
    kept = _kept(pages)
    assert kept == [pages[0], *(_body(n) for n in range(2, 6))]


def test_fuzzy_match_tolerates_ocr_slips_and_alternating_headers() -> None:
    pages = _report(5)
    pages[2][0] = "ACME Corp - Annual Repart 2024"  # an OCR misreading of the header
    assert _kept(pages) == [pages[0], *(_body(n) for n in range(2, 6))]
    book = [["Moby Dick" if n % 2 else "Chapter One", *_body(n)] for n in range(8)]
    assert _kept(book) == [book[0], book[1], *(_body(n) for n in range(2, 8))]


def test_heading_opening_two_of_six_pages_is_kept() -> None:
    pages = [[*_body(n)] for n in range(6)]
    pages[1].insert(0, "Results")
    pages[4].insert(0, "Results")
    drops = running_lines(pages)
    assert drops == [set()] * 6


def test_table_totals_at_the_foot_of_each_page_stay() -> None:
    totals = ["Total 1,204.50", "Total 987.10", "Total 2,310.00", "Total 455.75", "Total 1,001.20"]
    pages = [[HEADER, *_body(n), total] for n, total in enumerate(totals)]
    assert _kept(pages) == [pages[0], *([*_body(n), t] for n, t in enumerate(totals) if n)]


def test_two_page_document_keeps_everything() -> None:
    pages = _report(2)
    assert running_lines(pages) == [set(), set()]


def test_footer_lookalike_in_the_middle_of_a_page_stays() -> None:
    pages = _report(5)
    middle = [*_body(1, 3), "Page 2 of 5", *_body(1, 3)]
    pages[2] = [HEADER, *middle, "Page 3 of 5"]
    kept = _kept(pages)
    assert kept[2] == middle
    assert all("Page" not in " ".join(lines) for i, lines in enumerate(kept) if i not in (0, 2))


def test_a_page_never_loses_its_only_text() -> None:
    pages = _report(5)
    pages[3] = [HEADER, "", "Page 4 of 5"]  # a blank page bar the running lines
    kept = _kept(pages)
    assert kept[3] == pages[3]
    assert kept[1] == _body(2)


def test_drop_running_lines_keeps_font_facts_and_rebuilds_ocr_lines() -> None:
    layer = [
        PageText(
            page_no=n,
            method="text",
            text="\n".join([HEADER, "Revenue grew", f"Page {n} of 3"]),
            lines=[TextLine(HEADER, 9.0), TextLine("Revenue grew", 11.0, True),
                   TextLine(f"Page {n} of 3", 9.0)],
        )
        for n in (1, 2)
    ]
    ocr_text = f"{HEADER}\n\nCosts fell\n\nPage 3 of 3"
    ocr = PageText(page_no=3, method="ocr", text=ocr_text,
                   lines=[TextLine(t) for t in ocr_text.splitlines() if t])
    pages, dropped = drop_running_lines([*layer, ocr])
    assert dropped == 4
    assert [p.text for p in pages] == [layer[0].text, "Revenue grew", "\nCosts fell\n"]
    assert pages[0] == layer[0]
    assert pages[1].lines == [TextLine("Revenue grew", 11.0, True)]
    assert pages[2].lines == [TextLine("Costs fell")] and pages[2].method == "ocr"
    assert [p.page_no for p in pages] == [1, 2, 3]
