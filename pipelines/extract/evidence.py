"""Evidence: for each extracted value, the page and a verbatim quote that supports it.

Why: a model can return well-formed JSON with values the document never states. Each leaf
value of the data (`"total"`, `"line_items[0].amount"`) is looked up in the source pages:

- ISO dates are matched against every date printed on the page, normalised
  (`2018-12-25` is found as `25/12/2018` or `Dec 25 2018`);
- numbers and decimal strings against every number on the page, compared as decimals
  (`"9.00"` is found in `RM9.00`, `9.0` in `9.00`); dates are not mistaken for numbers;
  of several equal dates or numbers, the one on a line naming the field wins ("TOTAL 9.00"
  for `total`, not the item line that also says 9.00);
- other text by fuzzy alignment (rapidfuzz `partial_ratio_alignment`) on case-folded,
  whitespace-folded text, so OCR noise and line breaks inside an address still match, with
  a threshold that grows stricter for short values (under 5 characters: exact word match).

The quote is the source text of the line(s) the match falls on, verbatim (at most
`MAX_QUOTE_CHARS`). A value found nowhere gets `{"found": false}`: it was invented or
misread. Nulls are not looked up (nothing was claimed); booleans cannot be quoted and are
skipped too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from rapidfuzz import fuzz

from pipelines.extract.normalize import Found, find_amounts, find_dates, looks_like_iso_date

MAX_QUOTE_CHARS = 300
EXACT_BELOW = 5  # values shorter than this must match a whole word exactly
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
Hit = tuple[float, int, int, int]  # score, tie-break bonus, start, end


@dataclass(frozen=True)
class SourcePage:
    """One page of the source: its number (from 1) and its cleaned text."""

    page_no: int
    text: str


@dataclass(frozen=True)
class Evidence:
    """Where a value was found: page, verbatim quote, similarity 0–100; or `found=False`."""

    found: bool
    page: int | None = None
    quote: str | None = None
    score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: `{"found", "page", "quote", "score"}`."""
        score = None if self.score is None else round(self.score, 1)
        return {"found": self.found, "page": self.page, "quote": self.quote, "score": score}


def min_score(length: int) -> float:
    """The fuzzy score a text value of `length` characters needs to count as found."""
    return 100.0 if length < EXACT_BELOW else 90.0 if length < 16 else 85.0


class _Page:
    """A page prepared for matching: folded text with a map back to the original offsets."""

    def __init__(self, page: SourcePage) -> None:
        self.no = page.page_no
        self.text = page.text
        chars: list[str] = []
        self.origin: list[int] = []
        for i, ch in enumerate(page.text):
            if ch.isspace():
                if not chars or chars[-1] == " ":
                    continue
                ch = " "
            chars.append(ch.casefold()[:1])
            self.origin.append(i)
        self.folded = "".join(chars)

    @cached_property
    def dates(self) -> list[Found]:
        return find_dates(self.text)

    @cached_property
    def amounts(self) -> list[Found]:
        return find_amounts(self.text)

    def quote(self, start: int, end: int) -> str:
        """The original line(s) holding text[start:end], trimmed to MAX_QUOTE_CHARS."""
        line_start = self.text.rfind("\n", 0, start) + 1
        line_end = self.text.find("\n", end)
        line_end = len(self.text) if line_end < 0 else line_end
        if line_end - line_start > MAX_QUOTE_CHARS:
            margin = max(0, (MAX_QUOTE_CHARS - (end - start)) // 2)
            line_start = max(line_start, start - margin)
            line_end = min(line_end, max(end + margin, line_start + MAX_QUOTE_CHARS))
        return self.text[line_start:line_end].strip()

    def span(self, folded_start: int, folded_end: int) -> tuple[int, int]:
        """Original offsets of a span of the folded text."""
        return self.origin[folded_start], self.origin[max(folded_start, folded_end - 1)] + 1


def _fold(value: str) -> str:
    return " ".join(value.split()).casefold()


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return None


def _text_match(value: str, page: _Page) -> tuple[float, int, int] | None:
    needle = _fold(value)
    if not needle or not page.folded:
        return None
    if len(needle) < EXACT_BELOW:
        m = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", page.folded)
        return (100.0, *page.span(m.start(), m.end())) if m else None
    hit = fuzz.partial_ratio_alignment(needle, page.folded, score_cutoff=min_score(len(needle)))
    if hit is None or hit.src_end - hit.src_start < 0.9 * len(needle):
        return None  # the page is shorter than the value: only part of the value matched
    return hit.score, *page.span(hit.dest_start, hit.dest_end)


def _hinted(found: list[Found], page: _Page, equal: Any, value: Any,
            hints: Sequence[str]) -> Hit | None:
    """The best of the page's dates or numbers equal to the value: on a line naming the
    field ("TOTAL 9.00" for `total`) first, then printed exactly as extracted, then first."""
    best: Hit | None = None
    for f in found:
        if not equal(f):
            continue
        line = page.quote(f.start, f.end).casefold()
        named = any(re.search(rf"(?<![a-z]){re.escape(h)}(?![a-z])", line) for h in hints)
        bonus = 2 * named + (page.text[f.start:f.end] == str(value))
        if best is None or bonus > best[1]:
            best = (100.0, bonus, f.start, f.end)
    return best


def _match(value: Any, page: _Page, hints: Sequence[str]) -> Hit | None:
    """(score, bonus, start, end) of the best support for `value` on `page`, or None."""
    if isinstance(value, str) and looks_like_iso_date(value):
        return _hinted(page.dates, page, lambda f: f.value == value, value, hints)
    number = _as_decimal(value)
    if number is not None:
        return _hinted(page.amounts, page, lambda f: abs(Decimal(f.value)) == abs(number),
                       value, hints)
    hit = _text_match(str(value), page)
    return None if hit is None else (hit[0], 0, hit[1], hit[2])


def _hints(field: str) -> list[str]:
    last = re.sub(r"\[\d+\]", "", field).rsplit(".", 1)[-1]
    return [w for w in last.casefold().split("_") if len(w) > 2]


def _locate(value: Any, pages: Sequence[_Page], field: str) -> Evidence:
    """The best-supported occurrence of `value` across `pages` (earliest page on a tie);
    `field` (a path such as "total") prefers matches on a line that names it."""
    hints = _hints(field)
    best: tuple[Hit, _Page] | None = None
    for page in pages:
        hit = _match(value, page, hints)
        if hit is not None and (best is None or hit[:2] > best[0][:2]):
            best = (hit, page)
    if best is None:
        return Evidence(found=False)
    (score, _, start, end), page = best
    return Evidence(True, page.no, page.quote(start, end), score)


def leaves(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every non-null, non-boolean leaf: `a.b`, `items[0].price`."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from leaves(value, f"{path}[{i}]")
    elif data is not None and not isinstance(data, bool) and path:
        yield path, data


def find_evidence(data: dict[str, Any], pages: Sequence[SourcePage]) -> dict[str, Evidence]:
    """Evidence for every leaf of `data` (see the module docstring), keyed by its path."""
    prepared = [_Page(p) for p in pages]
    return {path: _locate(value, prepared, path) for path, value in leaves(data)}
