"""XLSX → one page per worksheet, in Markdown, with openpyxl.

A sheet is what a person names when they point into a workbook ("see the Q3 sheet"), so each
worksheet is a page, in workbook order (hidden ones included: their cells are data too; chart
sheets hold no cells and are skipped). A page is the sheet's name as a heading and its used
cells as one Markdown table whose first row is the header. Formulas give their value as Excel
last computed it (the file's cached value; none when the file never went through Excel or
LibreOffice). Whole numbers print without a fraction and dates as ISO 8601.

Cells are kept sparse while reading: a sheet that declares a huge range (or holds one cell in
column XFD) costs only the cells that exist, and only columns with a value are printed.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import openpyxl
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from ingest.errors import TooManyPages
from ingest.markdown_table import markdown_table
from ingest.types import Limits


def xlsx_pages(data: bytes, limits: Limits) -> list[str]:
    """The Markdown text of each worksheet; TooManyPages past `limits.max_pages` sheets.

    Raises what openpyxl raises for a damaged file; the caller turns it into CorruptDocument.
    """
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = [ws for ws in workbook.worksheets if isinstance(ws, ReadOnlyWorksheet)]
        if len(sheets) > limits.max_pages:
            raise TooManyPages("the workbook has too many sheets", pages=len(sheets),
                               limit=limits.max_pages)
        return [_sheet_page(ws) for ws in sheets]
    finally:
        workbook.close()


def _sheet_page(sheet: ReadOnlyWorksheet) -> str:
    """`# <sheet name>` and the sheet's used cells as a table."""
    sheet.reset_dimensions()  # trust the cells, not the declared range
    cells: Any = sheet  # the stubs type iter_rows for Worksheet only; ReadOnlyWorksheet shares it
    rows: list[dict[int, str]] = []
    for values in cells.iter_rows(values_only=True):
        row = {col: text for col, value in enumerate(values) if (text := cell_text(value))}
        if row:
            rows.append(row)
    columns = sorted({col for row in rows for col in row})
    table = markdown_table([[row.get(col, "") for col in columns] for row in rows])
    title = " ".join(str(sheet.title).split())
    return f"# {title}\n\n{table}" if table else f"# {title}"


def cell_text(value: Any) -> str:
    """A cell value as text: integers without `.0`, dates in ISO 8601, booleans as Excel shows
    them, nothing for an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()
