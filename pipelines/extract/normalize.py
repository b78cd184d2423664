"""Normalisation of extracted values: dates to ISO 8601, amounts to decimal strings.

Receipts print dates and money in many shapes; callers want one. The rules, applied by the
named schemas' validators and by evidence matching (which finds "25/12/2018" on a page for an
extracted "2018-12-25"):

Dates → `YYYY-MM-DD`. Accepted: `2018-12-25`, `2018/12/25`, `25/12/2018`, `25-12-18`,
`25.12.2018`, `25 Dec 2018`, `25-DEC-18`, `25DEC2018`, `Dec 25 2018`, `December 25, 2018`;
a time after the date is ignored. Numeric day/month order is day first (the usual order on
receipts outside the US) unless only month first gives a real date (`12/25/2018`). Two-digit
years are 2000–2069 for 00–69 and 1970–1999 for 70–99.

Amounts → a plain decimal string with at least two decimals: `"RM 9.00"` → `"9.00"`,
`"1,234.50"` → `"1234.50"`, `"1.234,50"` → `"1234.50"`, `"9"` → `"9.00"`, `"(5.00)"` →
`"-5.00"`. A currency code or symbol around the number is dropped (the invoice schema has its
own `currency` field). Of `,` and `.`, the last one is the decimal separator when both occur;
a lone `,` followed by exactly three digits is a thousands separator, otherwise decimal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}
_MONTH = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
          r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_NUMERIC_DATE = re.compile(r"(?<![\d.])(?P<a>\d{1,4})(?P<sep>[/\-.])(?P<b>\d{1,2})(?P=sep)"
                           r"(?P<c>\d{2,4})(?![\d]|[.,]\d)")
_DAY_MONTH_YEAR = re.compile(rf"(?<![\w])(?P<day>\d{{1,2}})[\s\-./]*{_MONTH}(?![a-z])"
                             r"[\s\-./,]*(?P<year>\d{4}|\d{2})(?!\d)", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"(?<![\w]){_MONTH}(?![a-z])[\s\-./]*(?P<day>\d{{1,2}})"
                             r"(?:st|nd|rd|th)?,?[\s\-./]*(?P<year>\d{4}|\d{2})(?!\d)",
                             re.IGNORECASE)
_AMOUNT_TOKEN = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])"
                           r"|(?<![\d.,])\d+(?:[.,]\d+)?(?![\d]|[.,]\d)")
_CURRENCY = re.compile(r"^(?:[A-Za-z]{1,3}\.?|[$€£¥₹])\s*|\s*(?:[A-Za-z]{1,3}|[$€£¥₹])$")
_PLAIN_NUMBER = re.compile(r"^\d{1,3}(?:([,. '])\d{3})*(?:[.,]\d+)?$|^\d+(?:[.,]\d+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Found:
    """A value recognised in a text: its span and its normalised form."""

    start: int
    end: int
    value: str


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        return 2000 + year if year < 70 else 1900 + year
    return year


def _make(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _numeric(a: str, b: str, c: str) -> str | None:
    if len(a) == 4:
        return _make(int(a), int(b), int(c)) if len(c) <= 2 else None
    if len(a) == 3 or len(c) == 3:
        return None
    year = _year(c)
    return _make(year, int(b), int(a)) or _make(year, int(a), int(b))


def find_dates(text: str) -> list[Found]:
    """Every date in `text` (see the module docstring for the shapes), in reading order."""
    found: list[Found] = []
    for m in _NUMERIC_DATE.finditer(text):
        iso = _numeric(m["a"], m["b"], m["c"])
        if iso is not None:
            found.append(Found(m.start(), m.end(), iso))
    for pattern in (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR):
        for m in pattern.finditer(text):
            iso = _make(_year(m["year"]), _MONTHS[m["mon"][:3].lower()], int(m["day"]))
            if iso is not None and not any(f.start < m.end() and m.start() < f.end
                                           for f in found):
                found.append(Found(m.start(), m.end(), iso))
    return sorted(found, key=lambda f: f.start)


def normalize_date(value: str) -> str:
    """`value` as `YYYY-MM-DD`; ValueError if it holds no recognisable date."""
    text = value.strip()
    if _ISO_DATE.match(text) and _make(*map(int, text.split("-"))):
        return text
    found = find_dates(text)
    if not found:
        raise ValueError(f"not a recognised date: {value!r}; give it as YYYY-MM-DD")
    return found[0].value


def _decimal(number: str) -> Decimal:
    """A plain number with `,`/`.`/space/apostrophe separators, read by the documented rules."""
    if "," in number and "." in number:
        decimal_sep = "," if number.rfind(",") > number.rfind(".") else "."
    elif number.count(",") == 1 and len(number) - number.index(",") - 1 != 3:
        decimal_sep = ","
    elif number.count(".") == 1:
        decimal_sep = "."
    else:
        decimal_sep = ""
    whole, _, frac = number.rpartition(decimal_sep) if decimal_sep else (number, "", "")
    digits = re.sub(r"[^\d]", "", whole) + ("." + frac if decimal_sep else "")
    return Decimal(digits)


def format_amount(amount: Decimal) -> str:
    """A decimal as a plain string with at least two decimals ("9" → "9.00")."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(Decimal("0.01"))
    return format(amount, "f")


def parse_amount(value: str | int | float | Decimal) -> Decimal:
    """The number in `value` ("RM 1,234.50" → Decimal("1234.50")); ValueError if none."""
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, int | float | Decimal):
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"not an amount: {value!r}") from exc
    text = value.strip().replace("\u2212", "-")
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()").strip()
    if text.startswith("-") or text.endswith("-"):
        negative, text = True, text.strip("-").strip()
    for _ in range(2):  # a code and a symbol may both be there: "RM $9.00" is rare but seen
        text = _CURRENCY.sub("", text).strip()
        if text.startswith("-"):
            negative, text = True, text[1:].strip()
    if not _PLAIN_NUMBER.match(text):
        raise ValueError(f"not an amount: {value!r}; give a number such as 1234.50")
    amount = _decimal(text)
    return -amount if negative else amount


def normalize_amount(value: str | int | float | Decimal) -> str:
    """`value` as a decimal string with at least two decimals; ValueError if not a number."""
    return format_amount(parse_amount(value))


def find_amounts(text: str) -> list[Found]:
    """Every number in `text` that is not part of a date, with its value as `format_amount`
    gives it (so "RM9.00" on a page is found as "9.00")."""
    dates = find_dates(text)
    found: list[Found] = []
    for m in _AMOUNT_TOKEN.finditer(text):
        if any(d.start < m.end() and m.start() < d.end for d in dates):
            continue
        try:
            found.append(Found(m.start(), m.end(), format_amount(_decimal(m.group()))))
        except InvalidOperation:
            continue
    return found


def looks_like_iso_date(value: str) -> bool:
    """Whether `value` is exactly a valid `YYYY-MM-DD` date."""
    return bool(_ISO_DATE.match(value)) and _make(*map(int, value.split("-"))) is not None
