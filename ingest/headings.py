"""Heading recovery: turn a page's text into Markdown whose `#` lines mark the sections.

Chunking is section-aware only if it can see the sections. A PDF text layer tells us font sizes
and boldness, so headings are lines set notably larger (or bold and short) than the body text.
OCR and plain text carry no fonts, so headings are recognised by their shape: section numbers
("2.1 Revenue"), short ALL-CAPS lines, or existing Markdown. Both paths prefer missing a heading
to inventing one: a receipt line such as "2 x Coffee 3.50" must stay body text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ingest.types import PageText, TextLine

_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)
_NUMBERED = re.compile(
    r"^(?P<num>(?:\d{1,2}|[A-Z])(?:\.\d{1,2})*\.?|[IVX]{1,4}\.)\s+(?P<title>\S.*)$"
)
_SECTION_NUMBER = re.compile(r"^(?:\d{1,2}|[A-Z])(?:\.\d{1,2})+\.?\s+")
# Specks OCR reads as punctuation before a line: "' 4 Conclusion", ". North 2.9".
_OCR_LEADING_JUNK = re.compile(r"^['‘’`\".,;:|]{1,2}\s+(?=\w)")
_DECIMAL_OR_MONEY = re.compile(r"\d[.,]\d|[$€£¥%]")
_SIZE_RATIO = 1.15  # a line this much larger than the body text is a heading candidate
_MAX_HEADING_WORDS = 12
_MAX_HEADING_CHARS = 100
_MAX_LEVEL = 3


def _letter_share(text: str) -> float:
    """Share of letters among the non-space characters (0 for an empty string)."""
    chars = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in chars) / len(chars) if chars else 0.0


def _title_like(text: str, *, max_words: int = _MAX_HEADING_WORDS) -> bool:
    """A short line that starts with a capital, does not end like a sentence, is mostly letters."""
    text = text.strip()
    if not text or len(text) > _MAX_HEADING_CHARS or len(text.split()) > max_words:
        return False
    first_letter = next((c for c in text if c.isalpha()), "")
    return (
        first_letter.isupper()
        and text[0].isalnum()
        and text[-1] not in ".,;:!?"
        and _letter_share(text) >= 0.6
        and not _DECIMAL_OR_MONEY.search(_SECTION_NUMBER.sub("", text))
    )


@dataclass
class _Line:
    text: str
    level: int  # 0 = body text


def _render(lines: list[_Line]) -> str:
    """Render classified lines, merging consecutive heading lines of one level (wrapped titles)."""
    out: list[str] = []
    previous_level = 0
    for line in lines:
        if line.level and line.level == previous_level and out:
            out[-1] = f"{out[-1]} {line.text}"
        else:
            out.append(f"{'#' * line.level} {line.text}" if line.level else line.text)
        previous_level = line.level
    return "\n".join(out)


@dataclass(frozen=True)
class FontProfile:
    """A document's body font size and the font styles its headings use, largest first.

    Built once per document (`font_profile` over every page's lines) so that heading levels
    agree across pages: a page holding only `2 Results` must not promote it to the level of
    the document title on page 1.
    """

    body_size: float | None
    heading_styles: tuple[tuple[float, bool], ...] = ()

    def style(self, line: TextLine) -> tuple[float, bool] | None:
        """(size, bold) when the line's font marks a heading candidate, else None."""
        body = self.body_size
        size = round(line.font_size, 1) if line.font_size is not None else body
        if size is not None and body is not None and size >= body * _SIZE_RATIO:
            return size, line.bold
        if line.bold and (size is None or body is None or size >= body):
            return (size if size is not None else 0.0), True
        return None

    def level(self, line: TextLine) -> int:
        """1..3 by the rank of the line's style among the document's heading styles; 0 = body."""
        style = self.style(line)
        if style is None:
            return 0
        return min(_MAX_LEVEL, 1 + sum(other > style for other in self.heading_styles))


def font_profile(lines: Iterable[TextLine]) -> FontProfile:
    """The body size (most common size, weighted by characters) and the heading styles in use."""
    lines = list(lines)
    weights: Counter[float] = Counter()
    for line in lines:
        if line.font_size is not None and line.text.strip():
            weights[round(line.font_size, 1)] += len(line.text.strip())
    probe = FontProfile(weights.most_common(1)[0][0] if weights else None)
    styles = {probe.style(ln) for ln in lines if _title_like(" ".join(ln.text.split()))}
    ranked = sorted((s for s in styles if s is not None), reverse=True)
    return FontProfile(probe.body_size, tuple(ranked))


def markdown_from_lines(lines: list[TextLine], profile: FontProfile | None = None) -> str:
    """Markdown for a text-layer page, with headings recovered from font size and weight.

    Short, title-like lines set at least 15% larger than the body, or bold and not smaller,
    become `#`, `##`, `###` by the rank of their (size, bold) style in `profile` (default: this
    page alone; pass the document's `font_profile` for levels consistent across pages).
    Consecutive heading lines of one style (a wrapped heading) merge into one.
    """
    profile = profile or font_profile(lines)
    classified: list[_Line] = []
    previous: TextLine | None = None
    for line in lines:
        text = " ".join(line.text.split())
        # The second line of a wrapped heading may start in lower case ("of the Year").
        continues = (
            previous is not None
            and classified[-1].level > 0
            and profile.style(previous) == profile.style(line)
            and _title_like(text[:1].upper() + text[1:])
        )
        level = profile.level(line) if text and (_title_like(text) or continues) else 0
        classified.append(_Line(text, level))
        previous = line
    return _render(classified)


def _numbering_style(number: str) -> tuple[bool, int]:
    """(starts with a digit, depth): lines sharing a style next to each other form a list."""
    return number[0].isdigit(), number.rstrip(".").count(".") + 1


def _plain_level(line: str, previous: str, following: str) -> int:
    """The heading level of one plain-text line (0 = body), judged by its shape and neighbours."""
    match = _NUMBERED.match(line)
    if match and _title_like(match["title"], max_words=10):
        number = match["num"].rstrip(".")
        depth = number.count(".") + 1
        # Adjacent lines numbered at the same depth form a list, not a run of headings.
        for neighbour in (previous, following):
            other = _NUMBERED.match(neighbour)
            if other and _numbering_style(other["num"]) == _numbering_style(match["num"]):
                return 0
        if len(number) == 1 and number.isalpha() and not match["num"].endswith("."):
            return 0  # "A Tale of Two Cities": a capital letter, not an appendix number
        return min(_MAX_LEVEL, depth)
    letters = [c for c in line if c.isalpha()]
    if (
        len(letters) >= 4
        and all(c.isupper() for c in letters)
        and _title_like(line, max_words=8)
        and not any(c.isdigit() for c in line)
    ):
        return 1
    return 0


def markdown_from_plain(text: str) -> str:
    """Markdown for OCR or plain text, with headings recovered from the shape of the lines.

    Numbered headings ("1 Introduction", "2.1 Revenue", "3. Method", "A. Appendix") get a level
    from their numbering depth; short ALL-CAPS lines become level 1; existing Markdown headings
    are kept. Numbered lists, table rows and receipt lines (prices, lowercase text, sentences)
    stay body text. Consecutive ALL-CAPS heading lines merge into one heading.
    """
    raw = text.split("\n")
    stripped = [_OCR_LEADING_JUNK.sub("", " ".join(line.split())) for line in raw]
    classified: list[_Line] = []
    for i, line in enumerate(stripped):
        if not line or _MARKDOWN_HEADING.match(line):
            classified.append(_Line(raw[i].rstrip() if line else "", 0))
            continue
        previous = stripped[i - 1] if i > 0 else ""
        following = stripped[i + 1] if i + 1 < len(stripped) else ""
        level = _plain_level(line, previous, following)
        classified.append(_Line(line if level else raw[i].rstrip(), level))
    return _render(classified)


def document_fonts(pages: Sequence[PageText]) -> FontProfile:
    """The `FontProfile` of a whole document, from every page's text-layer lines."""
    return font_profile(line for page in pages for line in page.lines)


def page_markdown(page: PageText, fonts: FontProfile | None = None) -> str:
    """Markdown for one page: from font facts when its lines carry them, else from line shapes.

    Pass the document's `document_fonts(pages)` so levels agree across pages. When the fonts
    reveal no heading style at all (everything in one size, as in many exported reports), the
    plain-text rules apply to the lines instead, so "2.1 Revenue" is still found.
    """
    if page.lines and any(ln.font_size is not None or ln.bold for ln in page.lines):
        profile = fonts or font_profile(page.lines)
        markdown = markdown_from_lines(page.lines, profile)
        return markdown if profile.heading_styles else markdown_from_plain(markdown)
    return markdown_from_plain(page.text)
