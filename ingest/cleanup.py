"""Page cleanup: deterministic normalisation for every page, guarded LLM repair for OCR pages.

`normalize` fixes what extraction reliably gets wrong (ligatures, soft hyphens, words hyphenated
across line breaks, whitespace) while keeping the line structure and Markdown heading lines that
chunking relies on. An optional `TextCleaner` (an LLM behind a small seam) may then repair OCR
noise, but its rewrite is only accepted when `guard_rewrite` shows it kept the numbers, most of
the words and most of the text: an LLM that "summarises" or invents figures must never reach the
corpus.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from rapidfuzz import fuzz

from ingest.headings import FontProfile, page_markdown
from ingest.types import CleanPage, CleanupStatus, PageText

_CHAR_FIXES = str.maketrans(
    {
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
        "\u00a0": " ",  # no-break space
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow no-break space
        "\t": " ",
        "\u200b": None,  # zero-width space
        "\u200c": None,
        "\u200d": None,
        "\ufeff": None,  # stray byte-order mark
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
    }
)
_SOFT_HYPHEN_BREAK = re.compile(r"\u00ad[ ]*\n[ ]*")
# A word broken at the end of a line: "infor-\nmation rest" (group 1 = the text before the hyphen).
_LINE_HYPHEN = re.compile(r"(\S*\w)-[ ]*\n[ ]*(\w\S*)([^\S\n]*)(\n?)")
_SPACE_RUN = re.compile(r"(?<=\S) {2,}")
_BLANK_RUN = re.compile(r"\n{3,}")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W\d_]+")
_CORRECTION_SIMILARITY = 60.0  # rapidfuzz ratio above which a replaced word is a spelling fix
_HEADING_LINE = re.compile(r"^#{1,6} ", re.MULTILINE)


def normalize(text: str) -> str:
    """Return `text` with extraction artefacts removed, deterministically and idempotently.

    Fixes ligatures, typographic quotes, odd spaces, soft hyphens, words hyphenated across line
    breaks, runs of spaces, trailing spaces and runs of blank lines (at most one blank line).
    Line structure and Markdown heading lines (`# ...`) survive, so it may run after heading
    recovery. Hyphens inside words ("state-of-the-art") and before digits ("COVID-19") stay.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text).translate(_CHAR_FIXES)
    text = _SOFT_HYPHEN_BREAK.sub("", text).replace("\u00ad", "")
    lines = [_SPACE_RUN.sub(" ", line).rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = _dehyphenate(text)
    text = _BLANK_RUN.sub("\n\n", text)
    return text.strip("\n")


def _dehyphenate(text: str) -> str:
    """Join words split by a hyphen at a line end, leaving the rest of the next line in place."""

    def replace(match: re.Match[str]) -> str:
        head, tail, _space, newline = match.groups()
        if tail[0].islower() and "-" not in head and not head[-1].isdigit():
            joined = head + tail
        else:
            joined = f"{head}-{tail}"
        rest_follows = not newline and match.end() < len(text)
        return joined + ("\n" if rest_follows else newline)

    return _LINE_HYPHEN.sub(replace, text)


class TextCleaner(Protocol):
    """The seam through which ingest asks an LLM to repair OCR text.

    Contract: `clean(text)` returns the same text with recognition errors fixed, in the same
    language, keeping every number, the line structure and Markdown heading lines. A call may be
    slow (seconds) and may cost money, so it is made once per OCR page and never for text-layer
    pages. It may raise any exception; ingest treats raising as "skip cleanup for this page"
    and keeps the normalised text. `clean_page` makes one call per OCR page and shares no state
    between calls; an implementation used by several worker threads must be thread-safe.
    """

    def clean(self, text: str) -> str:
        """Return a repaired version of `text` (see the class contract)."""
        ...


@dataclass(frozen=True)
class CleanupBounds:
    """How far an LLM rewrite may stray from the original before it is rejected.

    Numbers must survive exactly (as a multiset); at most `max_dropped_word_share` of the
    original's words may disappear; the rapidfuzz ratio of the two normalised texts must be at
    least `min_similarity` (0..1).
    """

    max_dropped_word_share: float = 0.10
    min_similarity: float = 0.80


@dataclass(frozen=True)
class GuardVerdict:
    """The outcome of `guard_rewrite`: the accepted text, or `None` with the reason."""

    text: str | None
    reason: str | None
    similarity: float
    dropped_word_share: float

    @property
    def accepted(self) -> bool:
        """Whether the rewrite may replace the original."""
        return self.text is not None


def _dropped_words(before: Counter[str], after: Counter[str]) -> int:
    """Words of `before` missing from `after`, not counting ones replaced by a close spelling.

    "Tbe" -> "The" or "rnargin" -> "margin" is the repair we ask for, not a dropped word.
    """
    added = list((after - before).elements())
    dropped = 0
    for word in (before - after).elements():
        match = next((w for w in added if fuzz.ratio(word, w) >= _CORRECTION_SIMILARITY), None)
        if match is None:
            dropped += 1
        else:
            added.remove(match)
    return dropped


def guard_rewrite(
    original: str, rewritten: str, bounds: CleanupBounds = CleanupBounds()
) -> GuardVerdict:
    """Decide whether an LLM's `rewritten` text may replace `original` (both get normalised).

    Rejects a rewrite that is empty, changes, adds or drops any number, drops too many words,
    drifts too far (similarity), or changes the number of Markdown heading lines.
    """
    before, after = normalize(original), normalize(rewritten)
    words_before = Counter(w.lower() for w in _WORD.findall(before))
    dropped = _dropped_words(words_before, Counter(w.lower() for w in _WORD.findall(after)))
    dropped_share = dropped / max(1, sum(words_before.values()))
    similarity = fuzz.ratio(before, after) / 100.0

    def reject(reason: str) -> GuardVerdict:
        return GuardVerdict(None, reason, similarity, dropped_share)

    if not after.strip():
        return reject("rewrite is empty")
    nums_before, nums_after = Counter(_NUMBER.findall(before)), Counter(_NUMBER.findall(after))
    if nums_before != nums_after:
        lost = sorted((nums_before - nums_after).elements())
        added = sorted((nums_after - nums_before).elements())
        return reject(f"numbers changed (lost {lost}, added {added})")
    if dropped_share > bounds.max_dropped_word_share:
        return reject(
            f"dropped {dropped_share:.0%} of words (max {bounds.max_dropped_word_share:.0%})"
        )
    if similarity < bounds.min_similarity:
        return reject(f"similarity {similarity:.2f} below {bounds.min_similarity:.2f}")
    if len(_HEADING_LINE.findall(before)) != len(_HEADING_LINE.findall(after)):
        return reject("heading lines changed")
    return GuardVerdict(after, None, similarity, dropped_share)


def clean_page(
    page: PageText,
    cleaner: TextCleaner | None,
    bounds: CleanupBounds = CleanupBounds(),
    *,
    fonts: FontProfile | None = None,
) -> CleanPage:
    """Turn a raw page into the Markdown text that gets chunked, keeping the raw text for audit.

    Recovers headings (`page_markdown`, with the document's `fonts` from `document_fonts` so
    heading levels agree across pages), normalises, and for OCR pages only asks `cleaner` for
    a repair that `guard_rewrite` must accept. Status: "applied" (rewrite kept), "rejected"
    (rewrite refused, reason says why), "skipped" (text-layer page, no cleaner, empty page, or
    the cleaner raised). Never raises because of the cleaner.
    """
    text = normalize(page_markdown(page, fonts))
    status: CleanupStatus = "skipped"
    reason: str | None = None
    if page.method != "ocr":
        reason = "text layer"
    elif cleaner is None:
        reason = "no cleaner configured"
    elif not text.strip():
        reason = "empty page"
    else:
        try:
            rewritten = cleaner.clean(text)
        except Exception as exc:  # the seam's contract: raising means "skip"
            reason = f"cleaner failed: {type(exc).__name__}: {exc}"[:300]
        else:
            verdict = guard_rewrite(text, rewritten, bounds)
            if verdict.text is not None:
                text, status = verdict.text, "applied"
            else:
                status, reason = "rejected", verdict.reason
    return CleanPage(
        page_no=page.page_no,
        method=page.method,
        raw_text=page.text,
        text=text,
        cleanup=status,
        cleanup_reason=reason,
        ocr_confidence=page.ocr_confidence,
    )
