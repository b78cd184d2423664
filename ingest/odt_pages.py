"""ODT (OpenDocument text) → page texts in Markdown, from its `content.xml` with lxml.

Like a Word file, an ODT has no fixed pages; the page ends it records are the ones LibreOffice
wrote when it last laid the document out (`text:soft-page-break`), and those are the pages
used. A document without them is page 1 in full. Headings (`text:h`) keep their outline level,
list items become `- ` items, tables Markdown tables (a repeated empty cell counts once, so a
row padded to the sheet's width costs nothing). The XML is parsed without entities, DTDs or
network access; footnotes and annotations are not read. An image (`draw:image` in a frame,
stored under `Pictures/`) leaves an `embedded_images.image_mark` where it is anchored, for
`structured` to replace with the text OCR reads in it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import Any

from lxml import etree

from ingest.embedded_images import image_mark
from ingest.markdown_table import markdown_table

_NS = {"text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
       "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
       "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
       "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
       "xlink": "http://www.w3.org/1999/xlink"}
_MAX_LEVEL = 6
_MAX_REPEAT = 100  # a cell with text repeated more often than this is shown this often
_SKIPPED = frozenset({"note", "annotation", "tracked-changes", "bookmark-ref"})
_PAGE_BREAK = "\f"
_CELLS = ("table-cell", "covered-table-cell")


def _q(prefix: str, name: str) -> str:
    return f"{{{_NS[prefix]}}}{name}"


def odt_pages(archive: zipfile.ZipFile) -> list[str]:
    """The Markdown text of each page of an ODT (see the module docstring for what a page is).

    Raises what zipfile and lxml raise for a damaged file; the caller turns it into
    CorruptDocument.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    root = etree.fromstring(archive.read("content.xml"), parser)
    body = root.find(f"{_q('office', 'body')}/{_q('office', 'text')}")
    if body is None:
        raise ValueError("content.xml has no office:text body")
    pages: list[list[str]] = [[]]
    for block in _blocks(body):
        if block == _PAGE_BREAK:
            if pages[-1]:
                pages.append([])
        elif block.strip():
            pages[-1].append(block)
    texts = ["\n\n".join(blocks) for blocks in pages]
    return texts if any(texts) else [""]


def _blocks(element: Any, depth: int = 0) -> Iterator[str]:
    """Markdown blocks (and `_PAGE_BREAK` markers) of a container's children, in order."""
    for child in element:
        tag = child.tag
        if tag == _q("text", "h"):
            level = int(child.get(_q("text", "outline-level"), "1") or 1)
            yield from _split(_inline(child), "#" * max(1, min(_MAX_LEVEL, level)) + " ")
        elif tag == _q("text", "p"):
            yield from _split(_inline(child), "")
        elif tag == _q("text", "list"):
            for item in child.iterfind(_q("text", "list-item")):
                for index, block in enumerate(_blocks(item, depth + 1)):
                    marker = "  " * depth + ("- " if index == 0 else "  ")
                    yield block if block == _PAGE_BREAK else marker + block
        elif tag == _q("table", "table"):
            yield _table(child)
        elif tag == _q("text", "soft-page-break"):
            yield _PAGE_BREAK
        elif tag == _q("text", "section"):
            yield from _blocks(child, depth)


def _split(text: str, prefix: str) -> Iterator[str]:
    """A paragraph's text as blocks, a page break inside it as a marker between them."""
    for index, fragment in enumerate(text.split(_PAGE_BREAK)):
        if index:
            yield _PAGE_BREAK
        fragment = " ".join(fragment.split()) if prefix else fragment.strip()
        if fragment:
            yield prefix + fragment if index == 0 else fragment


def _inline(element: Any) -> str:
    """The text of a paragraph or heading: spans and links descended into, `text:s` as spaces,
    tabs and line breaks kept, notes and annotations skipped."""
    parts: list[str] = [element.text or ""]
    for child in element:
        name = etree.QName(child).localname if isinstance(child.tag, str) else ""
        if not name:  # a comment or processing instruction: only its tail is text
            pass
        elif name == "s":
            parts.append(" " * int(child.get(_q("text", "c"), "1") or 1))
        elif name == "tab":
            parts.append("\t")
        elif name == "line-break":
            parts.append("\n")
        elif name == "soft-page-break":
            parts.append(_PAGE_BREAK)
        elif child.tag == _q("draw", "image"):
            href = child.get(_q("xlink", "href"), "")
            if href and "://" not in href:  # a linked picture outside the file is not read
                parts.append(image_mark(href.removeprefix("./")))
        elif name not in _SKIPPED:
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _table(table: Any) -> str:
    rows: list[list[str]] = []
    for row in table.iter(_q("table", "table-row")):
        cells: list[str] = []
        for cell in row:
            if not isinstance(cell.tag, str) or etree.QName(cell).localname not in _CELLS:
                continue
            text = " ".join(_inline(p) for p in cell.iterfind(_q("text", "p")))
            repeat = int(cell.get(_q("table", "number-columns-repeated"), "1") or 1)
            cells.extend([text] * (min(repeat, _MAX_REPEAT) if text.strip() else 1))
        rows.append(cells)
    return markdown_table(rows)
