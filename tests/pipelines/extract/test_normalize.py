"""Normalisation rules: dates to ISO 8601, amounts to decimal strings, and finding both in text."""

from __future__ import annotations

import pytest

from pipelines.extract.normalize import (
    find_amounts,
    find_dates,
    normalize_amount,
    normalize_date,
)


@pytest.mark.parametrize("text", [
    "25/12/2018", "25-12-18", "25.12.2018", "2018-12-25", "2018/12/25", "12/25/2018",
    "Dec 25 2018", "December 25, 2018", "25 Dec 2018", "25-DEC-18", "25DEC2018",
    "25 December 2018", "25/12/2018 8:13:39 PM", " DATE: 25/12/18 ",
])
def test_receipt_date_shapes_become_iso(text: str) -> None:
    assert normalize_date(text) == "2018-12-25"


@pytest.mark.parametrize(("text", "iso"), [
    ("12-01-19", "2019-01-12"),  # day first when both orders are real dates
    ("01/02/2019", "2019-02-01"),
    ("1 MAR 70", "1970-03-01"),  # two-digit years 70-99 are 19xx
    ("3 Jan 69", "2069-01-03"),
    ("Sept 5, 2021", "2021-09-05"),
    ("29/02/2020", "2020-02-29"),
])
def test_date_rules(text: str, iso: str) -> None:
    assert normalize_date(text) == iso


@pytest.mark.parametrize("text", ["", "yesterday", "31/31/2018", "29/02/2019", "2018", "12:30"])
def test_what_is_not_a_date_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        normalize_date(text)


@pytest.mark.parametrize(("value", "decimal"), [
    ("RM 9.00", "9.00"), ("RM9.00", "9.00"), ("9.00 MYR", "9.00"), ("$1,234.50", "1234.50"),
    ("1,234.50", "1234.50"), ("1.234,50", "1234.50"), ("1 234,50", "1234.50"),
    ("9", "9.00"), ("9,5", "9.50"), ("1,234", "1234.00"), ("0.125", "0.125"),
    ("(5.00)", "-5.00"), ("-RM 5.00", "-5.00"), ("€12", "12.00"), (9, "9.00"),
    (9.5, "9.50"), ("1,234,567.891", "1234567.891"),
])
def test_amounts_become_decimal_strings(value: str | int | float, decimal: str) -> None:
    assert normalize_amount(value) == decimal


@pytest.mark.parametrize("value", ["", "nine", "12 items 9.00", "9.00.00x", True])
def test_what_is_not_an_amount_is_refused(value: str | bool) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        normalize_amount(value)


def test_finding_dates_and_amounts_in_page_text() -> None:
    text = "DATE: 25/12/2018 8:13 PM\nQTY 2 x 4.50\nTOTAL RM9.00\nSUBTOTAL 1,234.50 on Jan 3 2019"
    assert [d.value for d in find_dates(text)] == ["2018-12-25", "2019-01-03"]
    amounts = [a.value for a in find_amounts(text)]
    assert {"2.00", "4.50", "9.00", "1234.50"} <= set(amounts)
    assert "25.00" not in amounts and "2018.00" not in amounts  # dates are not amounts
    nine = next(a for a in find_amounts(text) if a.value == "9.00")
    assert text[nine.start:nine.end] == "9.00"
