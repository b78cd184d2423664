"""Tables as Markdown, the one form every structured reader (DOCX, XLSX, PPTX, ODT) emits.

A Markdown table keeps a cell next to its column's name on one line, so a chunk holding a row
still says what each value is, and headings recovery leaves `|` lines alone. The first row is
taken as the header (Office tables rarely mark one; a spreadsheet's first row usually names the
columns). Cells are one line each: line breaks inside a cell become spaces and `|` is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """`rows` (the first one the header) as a Markdown table; "" when no cell holds text.

    Rows shorter than the widest are padded; columns and rows empty throughout are dropped.
    """
    cells = [[_cell(value) for value in row] for row in rows]
    cells = [row for row in cells if any(row)]
    if not cells:
        return ""
    width = max(len(row) for row in cells)
    cells = [row + [""] * (width - len(row)) for row in cells]
    used = [col for col in range(width) if any(row[col] for row in cells)]
    cells = [[row[col] for col in used] for row in cells]
    lines = [_line(cells[0]), _line(["---"] * len(used))]
    lines.extend(_line(row) for row in cells[1:])
    return "\n".join(lines)


def _cell(value: str) -> str:
    """One cell's text on one line, with its pipes escaped."""
    return " ".join(value.split()).replace("|", "\\|")


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
