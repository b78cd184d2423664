"""DOCX → page texts in Markdown, with python-docx.

A Word file has no fixed pages: where a page ends depends on the printer, fonts and margins.
Only two kinds of page end are recorded in the file, and those are the ones used: a hard page
break (`w:br w:type="page"`, or a paragraph set to start on a new page) and the page ends Word
itself wrote when it last laid the document out (`w:lastRenderedPageBreak`). A document with
neither, as most generated ones are, is page 1 in full; a page number is then never a guess.

Headings come from paragraph styles ("Title", "Heading 1".."Heading 6"), list paragraphs become
`- ` items, tables become Markdown tables. The body is read in document order; page headers and
footers, footnotes, comments and text boxes are not read. A picture in the body (`w:drawing`
or a legacy `w:pict`) leaves an `embedded_images.image_mark` of its `word/media/...` member
where it sits, for `structured` to replace with the text OCR reads in it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import docx
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.embedded_images import image_mark
from ingest.markdown_table import markdown_table

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_MAX_LEVEL = 6
_RUN_CONTAINERS = frozenset(qn(tag) for tag in (
    "w:hyperlink", "w:ins", "w:smartTag", "w:fldSimple", "w:sdt", "w:sdtContent",
    "w:customXml", "w:moveTo", "w:dir", "w:bdo"))
_PAGE_BREAK = "\f"  # marks a page end inside a paragraph's text while it is being split
_MC_ALTERNATE = "{http://schemas.openxmlformats.org/markup-compatibility/2006}AlternateContent"
_VML_IMAGEDATA = "{urn:schemas-microsoft-com:vml}imagedata"
_PICTURES = frozenset({qn("w:drawing"), qn("w:pict"), _MC_ALTERNATE})


def docx_pages(data: bytes) -> list[str]:
    """The Markdown text of each page of a DOCX (see the module docstring for what a page is).

    Raises what python-docx and lxml raise for a damaged file; the caller turns it into
    CorruptDocument.
    """
    document = docx.Document(io.BytesIO(data))
    pages: list[list[str]] = [[]]
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            table = _table(block)
            if table:
                pages[-1].append(table)
            continue
        prefix = _prefix(block)
        text = _paragraph_text(block)
        if _starts_new_page(block):
            text = _PAGE_BREAK + text
        for index, fragment in enumerate(text.split(_PAGE_BREAK)):
            if index and any(part.strip() for part in pages[-1]):
                pages.append([])  # a break with nothing before it since the last one is ignored
            fragment = fragment.strip()
            if prefix.startswith("#"):
                fragment = " ".join(fragment.split())  # a heading stays on one line
            if fragment:
                pages[-1].append(prefix + fragment)
                prefix = ""
    texts = ["\n\n".join(blocks) for blocks in pages]
    return texts if any(texts) else [""]


def _prefix(paragraph: Paragraph) -> str:
    """`# ` for a heading of its level, `- ` (indented by level) for a list item, else ""."""
    name = _style_name(paragraph)
    if name.lower() == "title":
        return "# "
    match = _HEADING_STYLE.match(name)
    if match:
        return "#" * min(_MAX_LEVEL, int(match[1])) + " "
    ppr = paragraph._p.pPr
    numbering: Any = None if ppr is None else ppr.numPr
    if numbering is not None or name.lower().startswith("list"):
        ilvl = None if numbering is None else numbering.ilvl
        level = 0 if ilvl is None else int(ilvl.val or 0)
        return "  " * level + "- "
    return ""


def _style_name(paragraph: Paragraph) -> str:
    """The paragraph style's name, "" when the style cannot be resolved."""
    try:
        style = paragraph.style
    except (KeyError, ValueError):
        return ""
    return (style.name or "") if style is not None else ""


def _starts_new_page(paragraph: Paragraph) -> bool:
    ppr = paragraph._p.pPr
    return ppr is not None and bool(ppr.pageBreakBefore_val)


def _paragraph_text(paragraph: Paragraph) -> str:
    """The paragraph's visible text, with `_PAGE_BREAK` where a page ends inside it and an
    image mark where a picture sits."""
    return "".join(_run_texts(paragraph._p, paragraph.part))


def _run_texts(element: Any, part: Any) -> Iterator[str]:
    """Text of the runs in `element`, descending into hyperlinks, insertions and content
    controls; deleted text and field codes are skipped, pictures become image marks."""
    for child in element:
        if child.tag == qn("w:r"):
            yield from _run_text(child, part)
        elif child.tag in _RUN_CONTAINERS:
            yield from _run_texts(child, part)


def _picture_marks(picture: Any, part: Any) -> Iterator[str]:
    """The image mark of a picture's image part (the first one it references: a drawing's
    fallback names the same image again)."""
    refs = [blip.get(qn("r:embed")) for blip in picture.iter(qn("a:blip"))]
    refs += [data.get(qn("r:id")) for data in picture.iter(_VML_IMAGEDATA)]
    for ref in refs:
        target = part.rels.get(ref) if ref else None
        if target is not None and not target.is_external:
            yield image_mark(str(target.target_part.partname))
            return


def _run_text(run: Any, part: Any) -> Iterator[str]:
    for child in run:
        tag = child.tag
        if tag in _PICTURES:
            yield from _picture_marks(child, part)
        elif tag == qn("w:t"):
            yield child.text or ""
        elif tag == qn("w:tab"):
            yield "\t"
        elif tag == qn("w:br"):
            yield _PAGE_BREAK if child.get(qn("w:type")) == "page" else "\n"
        elif tag == qn("w:cr"):
            yield "\n"
        elif tag == qn("w:lastRenderedPageBreak"):
            yield _PAGE_BREAK
        elif tag == qn("w:noBreakHyphen"):
            yield "-"


def _table(table: Table) -> str:
    """A Word table as Markdown: a merged cell's text once, in its first grid cell."""
    rows: list[list[str]] = []
    above: list[Any] = []
    for row in table.rows:
        cells = list(row.cells)
        texts: list[str] = []
        for col, cell in enumerate(cells):
            element = cell._tc
            repeated = (col > 0 and cells[col - 1]._tc is element) or (
                col < len(above) and above[col] is element)
            cell_text = " ".join(_paragraph_text(p).replace(_PAGE_BREAK, " ")
                                 for p in cell.paragraphs)
            texts.append("" if repeated else cell_text)
        above = [cell._tc for cell in cells]
        rows.append(texts)
    return markdown_table(rows)
