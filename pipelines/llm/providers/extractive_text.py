"""The extractive answerer's reading of passages: whole sentences and lines worth quoting.

Why its own module: what may be quoted is a question of text shape, not of relevance.
Passages are chunks of PDFs, OCR and Markdown: wrapped lines, headings, list items, table rows,
receipts, reference lists, running footers, and a first or last sentence the chunker cut. This
module turns one passage into `Piece`s: prose sentences (wrapped lines joined, words hyphenated
across a line end rejoined), lines that stand alone (list items, table rows, receipt lines) and
headings (context only, never quoted). It drops reference lists and bibliography entries,
page footers, and sentences cut at the passage's ends, and strips the document's own citation
markers ("[26, 27]", "(Smith et al., 2020)") so that only lectern's `[n]` remain.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

_STOPWORDS = frozenset(re.findall(r"\w+", """a about an and are as at be been by can could did do
does for from had has have how i if in into is it its me my of on or our should so than that the
their them then there these they this those to was we were what when where which who whom whose
why will with would you your please tell give explain describe list s
take taken took make made get got given happen happened remain remains mention mentioned say
said show shown use used exist exists any some"""))
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+|\w+")
_TERMINAL = ".!?…"
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "al.", "fig.", "figs.", "eq.", "dr.", "mr.", "mrs.",
                            "ms.", "prof.", "vs.", "no.", "inc.", "ltd.", "co.", "cf.", "st.",
                            "approx.", "ca.", "vol.", "pp.", "p.", "ref.", "refs.", "sec."})
_SENTENCE_END = re.compile(r"[.!?…][\"”')\]]?(?=\s+[\"“(\[]?[A-Z0-9])")
_BULLET = re.compile(r"^(?:[-*•·–]\s+|\d{1,3}[.)]\s+(?=\D))")
_LEAD_JUNK = re.compile(r"^[\s_•·*~|>#=.,;:]+")
_SECTION_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,2})*\.?\s+[A-Z]")
_FOOTER = re.compile(r"(?i)^(?:page\s+)?\d+\s*(?:of|/)\s*\d+$|^page\s+\d+$")
_REFERENCES_HEADING = re.compile(
    r"(?i)^(?:#+\s*)?(?:\d+(?:\.\d+)*\.?\s+)?(?:references|bibliography|works cited|"
    r"literature cited|reference list|references and notes)\s*:?$")
_NAME = r"[A-Z][\w'’\-]+"
_AUTHORS = rf"{_NAME}(?:\s+(?:et\s+al\.?|(?:and|&)\s+{_NAME}))?"
_AUTHOR_YEAR = rf"{_AUTHORS},?\s+(?:19|20)\d{{2}}[a-z]?(?:,\s*(?:19|20)\d{{2}}[a-z]?)*"
_CITATION_MARKERS = re.compile(
    r"\s*\[\d{1,3}(?:\s*[,;–-]\s*\d{1,3})*\]"  # [3], [26, 27], [4-6]
    rf"|\s*[(\[](?:(?:e\.g\.|see|cf\.),?\s+)?{_AUTHOR_YEAR}(?:\s*;\s*{_AUTHOR_YEAR})*[)\]]")
_TRUNCATED = re.compile(r"\s*\[…truncated\]\s*$")
_VENUE = re.compile(r"\b(?:Proc\.|Proceedings|Journal|J\.|Conference|Conf\.|Transactions|"
                    r"Trans\.|vol\.|Vol\.|pp\.|arXiv|doi|DOI|ISBN|Press|In:|Workshop|"
                    r"Symposium|IEEE|ACM|NeurIPS|NIPS|ICML|ICLR|CVPR|ACL|EMNLP|Springer|"
                    r"Elsevier|Preprint|preprint|Retrieved from)|https?://")
_AUTHOR_SIGNS = re.compile(rf"\bet al\.|\b{_NAME},\s+(?:[A-Z]\.\s*)+|\b(?:[A-Z]\.\s+)+{_NAME}"
                           rf"|\b{_NAME}\s+[A-Z]{{1,2}}[,.]")
_YEAR = re.compile(r"\((?:19|20)\d{2}[a-z]?\)|[,.]\s*(?:19|20)\d{2}[a-z]?[.,;)]?\s*$|"
                   r"[,.]\s*(?:19|20)\d{2}[a-z]?[.,]")
_ENTRY_START = re.compile(r"^\[\d{1,3}\]\s+\S|^\d{1,3}\.\s+" + _NAME + r",?\s+[A-Z]")

Kind = Literal["prose", "line", "row", "heading"]


@dataclass(frozen=True)
class Piece:
    """A quotable sentence, line or table row of a passage (or a heading: context, never
    quoted). Rows are lines with two or more numbers: table rows, receipt items."""

    text: str
    kind: Kind


def stem(word: str) -> str:
    """A light stemmer: plural and -ing/-ed/-ly endings, and a final e, so that "lasts",
    "lasted" and "lasting" meet; both sides of a comparison go through it."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def words(text: str) -> list[str]:
    """The lower-cased words and numbers of `text` ("42.8" and "412,000" stay whole)."""
    return _TOKEN.findall(text.lower())


def terms(text: str) -> list[str]:
    """Stemmed words and numbers of `text`, stopwords removed."""
    return [stem(w) for w in words(text) if w not in _STOPWORDS]


def fingerprint(text: str) -> str:
    """A hash of the text's words alone: the same sentence from two copies of a document (other
    spacing, hyphens, case or citation markers) has the same fingerprint."""
    return hashlib.sha1(" ".join(words(text)).encode()).hexdigest()


def strip_citation_markers(text: str) -> str:
    """`text` without the document's own citation markers: numeric brackets ("[26, 27]") and
    author-year references ("(Smith et al., 2020)", "(Lee and Park 2019; Kim, 2021)")."""
    stripped = _CITATION_MARKERS.sub("", text)
    return re.sub(r"\s+([.,;:!?])", r"\1", stripped).strip()


def is_references_heading(line: str) -> bool:
    """Whether a line is the heading of a reference list ("References", "7 Bibliography")."""
    return bool(_REFERENCES_HEADING.match(line.strip()))


def is_reference_entry(text: str) -> bool:
    """Whether `text` reads like a bibliography entry: a venue, identifier or entry number
    together with author initials, "et al." or a year (prose that cites "Smith et al. (2020)"
    has no venue, so it stays)."""
    venue = bool(_VENUE.search(text)) or bool(_ENTRY_START.match(text))
    return venue and bool(_AUTHOR_SIGNS.search(text) or _YEAR.search(text))


def split_sentences(text: str) -> list[str]:
    """Quotable sentences and lines of a passage (headings left out), in reading order."""
    return [p.text for p in pieces(text) if p.kind != "heading"]


def pieces(text: str) -> list[Piece]:
    """The passage as sentences, lines and headings; reference lists, footers and the
    sentences the chunker cut at either end are dropped, citation markers stripped."""
    blocks = _blocks(_TRUNCATED.sub("", text))
    truncated = bool(_TRUNCATED.search(text))
    out: list[Piece] = []
    for block, kind in blocks:
        if kind == "heading" and is_references_heading(block):
            break  # a reference list runs to the end of the passage
        if kind == "heading" or is_reference_entry(block):
            if kind == "heading":
                out.append(Piece(block, "heading"))
            continue
        parts = _split_prose(block) if kind == "prose" else [block]
        out += [Piece(p, kind) for p in parts]
    kept = [Piece(strip_citation_markers(_clean_start(p)), p.kind) for p in out
            if p.kind == "heading" or not is_reference_entry(p.text)]
    kept = [p for p in kept if _worth_quoting(p)]
    if kept and kept[0].kind == "prose" and _starts_mid_sentence(_LEAD_JUNK.sub("", text)):
        kept = kept[1:]
    if kept and kept[-1].kind == "prose" and (truncated or not _ends_sentence(kept[-1].text)) \
            and len(kept[-1].text.split()) >= 5:
        kept = kept[:-1]
    return kept


def _blocks(text: str) -> list[tuple[str, Kind]]:
    """Paragraphs on blank lines, then lines: wrapped lines joined into prose, standalone
    lines (list items, table rows, receipts) and headings kept apart."""
    out: list[tuple[str, Kind]] = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [re.sub(r"[ \t]+", " ", line).strip() for line in paragraph.split("\n")]
        lines = [line for line in lines if line and not _FOOTER.match(line)]
        current = ""
        for line in lines:
            if current and _continues(current, line):
                current = (current[:-1] + line if current.endswith("-") and line[0].islower()
                           else f"{current} {line}")
                continue
            if current:
                out.append((current, _kind(current)))
            current = line
        if current:
            out.append((current, _kind(current)))
    return out


def _continues(current: str, line: str) -> bool:
    """Whether `line` continues the text so far (a wrapped line) rather than starting anew."""
    if _BULLET.match(line) or is_references_heading(line) or _ENTRY_START.match(line):
        return False
    if line[0].islower():
        return True
    if current[-1] in _TERMINAL + ":;" or _is_heading(current):
        return False
    if line.startswith("#") or (_SECTION_NUMBER.match(line) and len(line.split()) <= 8):
        return False
    return len(current) >= 45 and not _is_table_row(line)


def _kind(block: str) -> Kind:
    if _is_heading(block):
        return "heading"
    if _is_table_row(block):
        return "row"
    if _BULLET.match(block):
        return "line"
    prose = block[-1] in _TERMINAL + "\"”')" or len(block.split()) >= 8
    return "prose" if prose else "line"


def _is_heading(line: str) -> bool:
    """Markdown headings, numbered section titles and short title-case or capital lines."""
    if line.startswith("#"):
        return True
    tokens = line.split()
    if len(tokens) > 8 or line[-1] in _TERMINAL + ",;:" or _BULLET.match(line):
        return False
    if _SECTION_NUMBER.match(line):
        return True
    numbers = [t for t in tokens if any(c.isdigit() for c in t)]
    if len(numbers) > 1 or (numbers and not re.fullmatch(r"(?:19|20)\d{2}", numbers[0])):
        return False
    alpha = [t for t in tokens if t.isalpha()]
    small = {"of", "and", "the", "for", "in", "on", "to", "a", "an", "with", "by"}
    if len(alpha) == 1 and len(tokens) == 1 and not (alpha[0].isupper() and len(alpha[0]) > 1):
        return False  # one capitalised word is a line ("Four"), one in capitals a heading
    return bool(alpha) and all(t[0].isupper() or t in small for t in alpha) and len(tokens) <= 6


def _is_table_row(line: str) -> bool:
    """A short line that is mostly numbers: a table row, a receipt item, a date line."""
    tokens = line.split()
    numeric = sum(any(c.isdigit() for c in t) for t in tokens)
    return 3 <= len(tokens) <= 10 and numeric >= 2 and numeric >= 0.3 * len(tokens) and \
        line[-1] not in _TERMINAL


def _split_prose(block: str) -> list[str]:
    """Sentences of a prose block, not split after abbreviations or initials."""
    parts, start = [], 0
    for end in _SENTENCE_END.finditer(block):
        parts.append(block[start:end.end()].strip())
        start = end.end()
    parts.append(block[start:].strip())
    out: list[str] = []
    for part in parts:
        tail = out[-1][-12:].split()[-1:] if out else []
        if tail and (tail[0].lower() in _ABBREVIATIONS or re.fullmatch(r"[A-Z]\.", tail[0])):
            out[-1] = f"{out[-1]} {part}"
        elif part:
            out.append(part)
    return out


def _clean_start(piece: Piece) -> str:
    """The piece without leading junk (OCR specks, Markdown marks) or list bullets."""
    text = _LEAD_JUNK.sub("", piece.text)
    return _BULLET.sub("", text) if piece.kind in ("line", "row") else text


def _starts_mid_sentence(text: str) -> bool:
    return bool(text) and (text[0].islower() or text[0] in ",;)]")


def _ends_sentence(text: str) -> bool:
    return text.rstrip("\"”')]")[-1:] in tuple(_TERMINAL)


def _worth_quoting(piece: Piece) -> bool:
    """Some words, not just numbers or symbols; prose of at least three words."""
    letters = sum(c.isalpha() for c in piece.text)
    if letters < 2:
        return False
    return piece.kind != "prose" or len(piece.text.split()) >= 3
