"""Text that PostgreSQL can store: no NUL or other C0 control characters, no lone surrogates.

PostgreSQL `text` and `jsonb` refuse U+0000 outright, and UTF-8 cannot encode a surrogate code
point, so one such character in a page (a 10-Q's check-box glyph that a font maps to U+0000, a
math font without a character map, a UTF-16 string decoded half-way) used to fail the whole
document at the final write. Every page is made storable as it is read, before cleanup,
headings and chunking, so pages, chunks and section paths derive from the same clean text, and
the document's processing log records how many characters were removed.

Kept: tab, line feed and carriage return. A form feed (a page break in plain text) becomes a
line feed rather than vanishing, so the words on either side stay apart; lectern separates
pages itself (`PAGE_SEPARATOR`). A surrogate pair in the right order becomes the character it
encodes; any other surrogate is removed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_REFUSED = re.compile("[\x00-\x08\x0b\x0e-\x1f\ud800-\udfff]")
_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def storable(text: str) -> tuple[str, int]:
    """`text` without the characters PostgreSQL cannot store, and how many were removed.

    Form feeds become line feeds and surrogate pairs their character; neither counts as removed.
    """
    if _UNSTORABLE.search(text) is None:
        return text, 0
    text = _PAIR.sub(_join_pair, text.replace("\f", "\n"))
    cleaned = _UNSTORABLE.sub("", text)
    return cleaned, len(text) - len(cleaned)


def storable_text(text: str) -> str:
    """`text` made storable (see `storable`), when the count does not matter."""
    return storable(text)[0]


def storable_json(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with every string made storable, keys
    included: for error details and warnings that quote a document's or a library's text."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, Mapping):
        return {storable_json(key): storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value


def _join_pair(match: re.Match[str]) -> str:
    return match.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le")


# What a client sends is refused rather than cleaned (`unstorable_char`, `json_problem`): it is
# either stored as sent or not at all.

MAX_JSON_DEPTH = 32
"""How deeply objects and arrays may nest in JSON that lectern stores (document metadata) or
reads from a request (filters, schemas): far past any real use, far below what PostgreSQL,
pydantic's serialiser or Python's recursion limit refuse."""


def unstorable_char(text: str) -> str | None:
    """Why `text` cannot be stored as it stands (its first NUL, other C0 control or lone
    surrogate, with its position), or None when it can. Tab, line feed, CR and form feed (the
    page break of text pasted from a document) are fine."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    char = found.group()
    kind = "a lone surrogate" if char >= "\ud800" else "the control character"
    return f"contains {kind} U+{ord(char):04X} at position {found.start()}"


def json_problem(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a decoded JSON value cannot be stored and served back (nested deeper than
    `max_depth`, a NaN or infinite number, an unstorable character in a key or string), with
    where, or None when it can. Walks without recursion, so any depth is safe to check."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, Mapping | list):
            if depth >= max_depth:
                return f"{path or 'value'} nests deeper than {max_depth} levels"
            pairs = item.items() if isinstance(item, Mapping) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str) and (problem := unstorable_char(key)) is not None:
                    return f"a key under {path or 'the top level'} {problem}"
                stack.append((child, depth + 1, f"{path}.{key}" if path else str(key)))
        elif isinstance(item, float) and not math.isfinite(item):
            return f"{path or 'value'} is {item!r}: JSON numbers must be finite"
        elif isinstance(item, str) and (problem := unstorable_char(item)) is not None:
            return f"{path or 'value'} {problem}"
    return None
