"""Page Markdown as the samples' expected texts hold it, for comparing reader output with them
(the structured-format and embedded-picture tests and `bench.formats`)."""

from __future__ import annotations

import re

from ingest.embedded_images import IMAGE_TEXT_LABEL

_SEPARATOR_ROW = re.compile(r"^\|(?:\s*-{3,}\s*\|)+$")
_MARKER = re.compile(r"^(?:#{1,6}\s+|\s*-\s+)")


def plain_text(markdown: str) -> str:
    """Markdown as the expected texts hold it: no `#`/`- ` markers, table rows as their cells
    joined by spaces, no separator rows, no blank lines."""
    lines: list[str] = []
    for line in markdown.splitlines():
        line = line.strip()
        if not line or _SEPARATOR_ROW.match(line):
            continue
        if line.startswith("|") and line.endswith("|"):
            cells = re.split(r"(?<!\\)\|", line[1:-1])
            line = " ".join(cell.strip().replace("\\|", "|") for cell in cells)
        lines.append(_MARKER.sub("", line))
    return "\n".join(lines)


def without_image_markers(markdown: str) -> str:
    """Page text as the expected texts hold it: blockquote and `[image text]` markers off."""
    lines = [line.removeprefix("> ").removeprefix(IMAGE_TEXT_LABEL + " ")
             for line in markdown.splitlines()]
    return plain_text("\n".join(lines))


def image_text(markdown: str) -> str:
    """Only the lines read from pictures (the blockquotes), without their markers."""
    return "\n".join(line.removeprefix("> ").removeprefix(IMAGE_TEXT_LABEL + " ")
                     for line in markdown.splitlines() if line.startswith("> "))
