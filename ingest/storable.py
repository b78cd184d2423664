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

import re
from collections.abc import Mapping
from typing import Any

_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
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
