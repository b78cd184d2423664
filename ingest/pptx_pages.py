"""PPTX → one page per slide, in Markdown, with python-pptx.

A slide is the unit a presenter and a reader cite, so slide N is page N. Its title becomes the
page's `#` heading; the other shapes follow top to bottom, then left to right (the order a
reader takes them in, not the order they were drawn in): text frames paragraph by paragraph
(indented paragraphs as nested `- ` items), tables as Markdown tables, groups shape by shape.
The speaker notes come last, under `## Notes`: they are often where the full sentences are.
Footer, date and slide-number placeholders repeat on every slide and are left out, and so are
charts. A picture leaves an `embedded_images.image_mark` of its `ppt/media/...` member at its
place in the reading order, for `structured` to replace with the text OCR reads in it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

import pptx
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.shapes.base import BaseShape
from pptx.shapes.group import GroupShape
from pptx.shapes.picture import Picture
from pptx.slide import Slide

from ingest.embedded_images import image_mark
from ingest.errors import TooManyPages
from ingest.markdown_table import markdown_table
from ingest.types import Limits

_SKIPPED = frozenset({PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.SLIDE_NUMBER,
                      PP_PLACEHOLDER.HEADER})
_TITLES = frozenset({PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE,
                     PP_PLACEHOLDER.VERTICAL_TITLE})


def pptx_pages(data: bytes, limits: Limits) -> list[str]:
    """The Markdown text of each slide; TooManyPages past `limits.max_pages` slides.

    Raises what python-pptx raises for a damaged file; the caller turns it into CorruptDocument.
    """
    presentation = pptx.Presentation(io.BytesIO(data))
    slides = list(presentation.slides)
    if len(slides) > limits.max_pages:
        raise TooManyPages("the presentation has too many slides", pages=len(slides),
                           limit=limits.max_pages)
    return [_slide_page(slide) for slide in slides]


def _slide_page(slide: Slide) -> str:
    blocks: list[str] = []
    title = ""
    for shape in _reading_order(slide.shapes):
        if _placeholder_type(shape) in _TITLES and not title and shape.has_text_frame:
            title = " ".join(_frame_text(shape).split())
            continue
        blocks.extend(_shape_blocks(shape))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        text = "" if notes is None else notes.text.strip()
        if text:
            blocks.extend(["## Notes", text])
    if title:
        blocks.insert(0, f"# {title}")
    return "\n\n".join(block for block in blocks if block.strip())


def _reading_order(shapes: Iterable[BaseShape]) -> list[BaseShape]:
    """Shapes top to bottom, then left to right (a shape without a position goes first)."""
    return sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0))


def _shape_blocks(shape: BaseShape) -> Iterator[str]:
    """The Markdown blocks of one shape (none for skipped placeholders and charts; a
    picture's image mark)."""
    if _placeholder_type(shape) in _SKIPPED:
        return
    if isinstance(shape, GroupShape):
        for inner in _reading_order(shape.shapes):
            yield from _shape_blocks(inner)
    elif isinstance(shape, Picture):
        yield from _picture_mark(shape)
    elif getattr(shape, "has_table", False):
        table: Any = shape.table  # type: ignore[attr-defined]  # a GraphicFrame holding one
        yield markdown_table([[cell.text for cell in row.cells] for row in table.rows])
    elif shape.has_text_frame:
        yield _frame_markdown(shape)


def _picture_mark(picture: Picture) -> Iterator[str]:
    """The image mark of the picture's image part; none for a linked (external) picture."""
    element: Any = picture._element  # a CT_Picture for a Picture
    ref = element.blip_rId
    rel = picture.part.rels.get(ref) if ref else None
    if rel is not None and not rel.is_external:
        yield image_mark(str(rel.target_part.partname))


def _placeholder_type(shape: BaseShape) -> Any:
    """The placeholder type of a placeholder shape, None for any other shape."""
    if not shape.is_placeholder:
        return None
    try:
        return shape.placeholder_format.type
    except (ValueError, AttributeError):
        return None


def _frame_text(shape: BaseShape) -> str:
    frame: Any = shape.text_frame  # type: ignore[attr-defined]  # has_text_frame was checked
    return str(frame.text)


def _frame_markdown(shape: BaseShape) -> str:
    """A text frame's paragraphs one per line; paragraphs indented by level become `- ` items."""
    frame: Any = shape.text_frame  # type: ignore[attr-defined]  # has_text_frame was checked
    lines: list[str] = []
    for paragraph in frame.paragraphs:
        text = " ".join(str(paragraph.text).split())
        if not text:
            continue
        level = int(paragraph.level or 0)
        lines.append("  " * (level - 1) + "- " + text if level else text)
    return "\n".join(lines)
