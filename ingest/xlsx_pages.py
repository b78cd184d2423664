"""XLSX → one page per worksheet, in Markdown, with openpyxl.

A sheet is what a person names when they point into a workbook ("see the Q3 sheet"), so each
worksheet is a page, in workbook order (hidden ones included: their cells are data too; chart
sheets hold no cells and are skipped). A page is the sheet's name as a heading and its used
cells as one Markdown table whose first row is the header. Formulas give their value as Excel
last computed it (the file's cached value; none when the file never went through Excel or
LibreOffice). Whole numbers print without a fraction and dates as ISO 8601.

Cells are kept sparse while reading: a sheet that declares a huge range (or holds one cell in
column XFD) costs only the cells that exist, and only columns with a value are printed.

Pictures placed on a sheet (its drawing's `a:blip` images under `xl/media/`) are found through
the package's relationships and leave an `embedded_images.image_mark` each after the sheet's
table, for `structured` to replace with the text OCR reads in them.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import zipfile
from collections.abc import Iterator
from typing import Any

import openpyxl
from lxml import etree
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from ingest.embedded_images import image_mark
from ingest.errors import TooManyPages
from ingest.markdown_table import markdown_table
from ingest.types import Limits

_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_BLIP = "{http://schemas.openxmlformats.org/drawingml/2006/main}blip"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def xlsx_pages(data: bytes, limits: Limits, archive: zipfile.ZipFile | None = None) -> list[str]:
    """The Markdown text of each worksheet; TooManyPages past `limits.max_pages` sheets.
    With the opened `archive`, each sheet's pictures are marked after its table.

    Raises what openpyxl raises for a damaged file; the caller turns it into CorruptDocument.
    """
    pictures = {} if archive is None else sheet_pictures(archive)
    pages = _sheet_pages(data, limits)
    return [page + "".join(f"\n\n{image_mark(m)}" for m in pictures.get(title, []))
            for title, page in pages]


def _sheet_pages(data: bytes, limits: Limits) -> list[tuple[str, str]]:
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = [ws for ws in workbook.worksheets if isinstance(ws, ReadOnlyWorksheet)]
        if len(sheets) > limits.max_pages:
            raise TooManyPages("the workbook has too many sheets", pages=len(sheets),
                               limit=limits.max_pages)
        return [(str(ws.title), _sheet_page(ws)) for ws in sheets]
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


def sheet_pictures(archive: zipfile.ZipFile) -> dict[str, list[str]]:
    """The image members shown on each worksheet, by sheet name, in drawing order: workbook →
    sheet → drawing → image relationships. A part that is missing or damaged has none."""
    found: dict[str, list[str]] = {}
    try:
        workbook = _xml(archive, "xl/workbook.xml")
    except (KeyError, etree.XMLSyntaxError):
        return found
    targets = _rels(archive, "xl/workbook.xml")
    for sheet in workbook.iter(f"{_MAIN}sheet"):
        part = targets.get(sheet.get(f"{_R}id", ""))
        if part is not None:
            found[str(sheet.get("name", ""))] = list(_drawing_images(archive, part))
    return found


def _drawing_images(archive: zipfile.ZipFile, sheet_part: str) -> Iterator[str]:
    for drawing in _rels(archive, sheet_part, kind="/drawing").values():
        images = _rels(archive, drawing, kind="/image")
        try:
            blips = _xml(archive, drawing).iter(_BLIP)
            yield from dict.fromkeys(images[ref] for blip in blips
                                     if (ref := blip.get(f"{_R}embed", "")) in images)
        except (KeyError, etree.XMLSyntaxError):
            continue


def _rels(archive: zipfile.ZipFile, part: str, kind: str = "") -> dict[str, str]:
    """A part's internal relationships (id → member name), of types ending in `kind`."""
    folder, name = posixpath.split(part)
    try:
        root = _xml(archive, posixpath.join(folder, "_rels", name + ".rels"))
    except (KeyError, etree.XMLSyntaxError):
        return {}
    rels: dict[str, str] = {}
    for rel in root.iter(_REL):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External" or not rel.get("Type", "").endswith(kind):
            continue
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(folder, target))
        rels[rel.get("Id", "")] = member
    return rels


def _xml(archive: zipfile.ZipFile, member: str) -> Any:
    return etree.fromstring(archive.read(member), _PARSER)
