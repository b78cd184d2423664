"""Running headers and footers: lines that repeat at the top or bottom of most pages.

A document title, "Confidential", a date or "Page 3 of 12" printed on every page says nothing
about the page it sits on; left in, it pads every chunk, costs embedding tokens and makes every
page a search hit for its words. `running_lines` finds such lines by comparing the first and
last few non-blank lines of each page across the document, with digits normalised ("Page 3 of
12" matches "Page 4 of 12") and a fuzzy match that tolerates OCR slips. It errs towards keeping:
a line must recur in the same zone (top or bottom) on at least `MIN_PAGES` pages and on a clear
majority of them, or on nearly every page of one parity (books alternate a title and a chapter
header), and numbers that change from page to page must count up like a page number, so
the totals at the foot of a table stay; a page never loses all of its text. Each running line
stays where it first appears: a title or an invoice number printed in every page's header is
still read (and found by search, and by extraction) once, on its first page.
`drop_running_lines` applies this to the raw pages before headings are recovered, so only the
text that is chunked and embedded loses them.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise

from rapidfuzz import fuzz, process

from ingest.types import PageText, TextLine

EDGE_LINES = 3  # non-blank lines looked at, at the top and at the bottom of each page
MIN_PAGES = 3
MIN_SHARE = 0.6  # of all pages
MIN_PARITY_SHARE = 0.8  # of the odd (or even) pages, for headers that alternate
COUNTING_SHARE = 0.75  # of page-to-page steps where a line's changing numbers must go up
SIMILARITY = 90.0  # rapidfuzz ratio of two normalised lines that count as the same line
_DIGITS = re.compile(r"\d+")


def line_key(line: str) -> str:
    """The form lines are compared in: case-folded, each run of digits as `#`, spaces collapsed."""
    return " ".join(_DIGITS.sub("#", line.casefold()).split())


def _edges(lines: Sequence[str]) -> tuple[list[int], list[int]]:
    """Indices of the first and of the last `EDGE_LINES` non-blank lines of a page."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return filled[:EDGE_LINES], filled[-EDGE_LINES:]


def _recurs(pages: set[int], total: int) -> bool:
    """Whether a line seen on these page indices is running, in a document of `total` pages."""
    if len(pages) >= max(MIN_PAGES, math.ceil(MIN_SHARE * total)):
        return True
    for parity in (0, 1):
        hits = sum(1 for p in pages if p % 2 == parity)
        same_parity = len(range(parity, total, 2))
        if hits >= max(MIN_PAGES, math.ceil(MIN_PARITY_SHARE * same_parity)):
            return True
    return False


def _numbers_count_pages(lines: Sequence[str]) -> bool:
    """Whether the numbers of one recurring line, in page order, stay put or mostly count up
    (a page counter), rather than vary as the totals at the foot of a table do."""
    rows = [[int(run) for run in _DIGITS.findall(line)] for line in lines]
    for column in zip(*rows, strict=True):
        steps = list(pairwise(column))
        if len(set(column)) > 1 and sum(b > a for a, b in steps) < COUNTING_SHARE * len(steps):
            return False
    return True


def running_lines(pages: Sequence[Sequence[str]]) -> list[set[int]]:
    """For each page (a list of its lines), the indices of its running header and footer lines.

    Only the first and last `EDGE_LINES` non-blank lines of a page are candidates; a line whose
    numbers change from page to page must count up like a page number. Each running line is
    kept on the first page it appears on. Documents of fewer than
    `MIN_PAGES` pages keep everything, and so does any page whose every readable line would go.
    """
    drop: list[set[int]] = [set() for _ in pages]
    if len(pages) < MIN_PAGES:
        return drop
    for zone in (0, 1):
        seen: dict[str, list[tuple[int, int]]] = defaultdict(list)  # key -> [(page, line)]
        for p, lines in enumerate(pages):
            for i in _edges(lines)[zone]:
                seen[line_key(lines[i])].append((p, i))
        keys = list(seen)
        if not keys:
            continue
        scores = process.cdist(keys, keys, scorer=fuzz.ratio, score_cutoff=SIMILARITY)
        for row, key in zip(scores, keys, strict=True):
            on_pages = {p for j in row.nonzero()[0] for p, _ in seen[keys[j]]}
            own = [pages[p][i] for p, i in seen[key]]
            if _recurs(on_pages, len(pages)) and _numbers_count_pages(own):
                first = min(on_pages)
                drop_here = ((p, i) for p, i in seen[key] if p != first)
                for p, i in drop_here:
                    drop[p].add(i)
    for lines, gone in zip(pages, drop, strict=True):
        if not any(_readable(line) for i, line in enumerate(lines) if i not in gone):
            gone.clear()
    return drop


def _readable(line: str) -> bool:
    return any(ch.isalnum() for ch in line)


def drop_running_lines(pages: Sequence[PageText]) -> tuple[list[PageText], int]:
    """The pages without their running headers and footers, and how many lines were dropped.

    Text-layer lines keep their font facts; pages whose `lines` do not spell out `text` line
    for line (OCR) have their lines rebuilt from the text that is kept.
    """
    aligned = [_aligned(page) for page in pages]
    texts = [
        [ln.text for ln in page.lines] if whole else page.text.split("\n")
        for page, whole in zip(pages, aligned, strict=True)
    ]
    out: list[PageText] = []
    dropped = 0
    for page, whole, lines, gone in zip(pages, aligned, texts, running_lines(texts), strict=True):
        if not gone:
            out.append(page)
            continue
        dropped += len(gone)
        kept = [line for i, line in enumerate(lines) if i not in gone]
        if whole:
            facts = [ln for i, ln in enumerate(page.lines) if i not in gone]
        else:
            facts = [TextLine(text=line) for line in kept if line.strip()]
        out.append(replace(page, text="\n".join(kept), lines=facts))
    return out, dropped


def _aligned(page: PageText) -> bool:
    """Whether `page.text` is exactly its `lines` joined by newlines (a text-layer page)."""
    return (
        bool(page.lines)
        and all("\n" not in ln.text for ln in page.lines)
        and page.text == "\n".join(ln.text for ln in page.lines)
    )
