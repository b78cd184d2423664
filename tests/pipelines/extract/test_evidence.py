"""Evidence: the page and verbatim quote behind each value; invented values flagged."""

from __future__ import annotations

from pipelines.extract.evidence import Evidence, SourcePage, find_evidence, leaves

PAGES = [
    SourcePage(1, "INVOICE INV-0042\nAcme Industrial Supplies Ltd\n12 Harbour Road,\n"
                "Port Town PT1 2AB\nInvoice date: 03/03/2024   Due: April 2, 2024"),
    SourcePage(2, "Bolts M8 x 40    2    10.00    20.00\nWashers          1     9.00     9.00\n"
                "Subtotal 29.00\nVAT 5.80\nTOTAL DUE  GBP 34.80"),
]


def evidence_for(value: object, pages: list[SourcePage] = PAGES) -> Evidence:
    """The evidence `find_evidence` gives one value, under a field name that hints nothing."""
    return find_evidence({"value": value}, pages)["value"]


def test_values_are_found_on_their_page_with_the_line_as_quote() -> None:
    ev = find_evidence({"vendor": "ACME INDUSTRIAL SUPPLIES LTD", "invoice_number": "INV-0042",
                        "invoice_date": "2024-03-03", "due_date": "2024-04-02",
                        "total": "34.80", "tax": 5.8}, PAGES)
    assert ev["vendor"].as_dict() == {"found": True, "page": 1,
                                      "quote": "Acme Industrial Supplies Ltd", "score": 100.0}
    assert (ev["invoice_number"].page, ev["invoice_number"].quote) == (1, "INVOICE INV-0042")
    assert ev["invoice_date"].quote == ev["due_date"].quote == (
        "Invoice date: 03/03/2024   Due: April 2, 2024")
    assert (ev["total"].page, ev["total"].quote) == (2, "TOTAL DUE  GBP 34.80")
    assert ev["tax"].quote == "VAT 5.80"


def test_a_line_naming_the_field_wins_among_equal_numbers() -> None:
    ev = find_evidence({"subtotal": "29.00", "items": [{"amount": "9.00"}]}, PAGES)
    assert ev["subtotal"].quote == "Subtotal 29.00"
    assert ev["items[0].amount"].quote == "Washers          1     9.00     9.00"


def test_ocr_noise_and_line_breaks_still_match_text() -> None:
    ev = evidence_for("12 Harbour Road, Port Town PT1 2AB")
    assert ev.found and ev.page == 1 and ev.quote == "12 Harbour Road,\nPort Town PT1 2AB"
    noisy = evidence_for("Acme lndustrial Suppiies Ltd")  # OCR-style l/I and i/l swaps
    assert noisy.found and noisy.score is not None and 85 <= noisy.score < 100


def test_invented_values_are_flagged() -> None:
    ev = find_evidence({"vendor": "Globex Corporation", "total": "43.80",
                        "invoice_date": "2024-03-04", "po": "PO-77", "qty": 3}, PAGES)
    assert {k: v.found for k, v in ev.items()} == {
        "vendor": False, "total": False, "invoice_date": False, "po": False, "qty": False}
    assert ev["vendor"].as_dict() == {"found": False, "page": None, "quote": None, "score": None}


def test_short_values_need_a_whole_word_and_a_long_value_is_not_matched_by_a_short_page() -> None:
    assert not evidence_for("VA").found  # inside "VAT" only
    assert evidence_for("VAT").found
    short = [SourcePage(1, "Ltd")]
    assert not evidence_for("Acme Industrial Supplies Ltd", short).found


def test_nulls_and_booleans_are_not_looked_up() -> None:
    data = {"a": None, "b": True, "c": {"d": [1, None]}, "e": ""}
    assert list(leaves(data)) == [("c.d[0]", 1), ("e", "")]
    assert find_evidence({"a": None, "paid": False}, PAGES) == {}
