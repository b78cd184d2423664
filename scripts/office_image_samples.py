"""The Office samples whose text is partly in pictures: `notice.docx` and `returns.pptx`.

`make_office_samples.py` calls `make_image_samples`. Each picture holding text is rendered
with Pillow in DejaVu Sans at a large, clear size (as a photographed notice or a pasted label
would be); next to it each document holds a small logo (under the size lectern reads) and a
photograph-like picture without text (blurred noise), which must leave nothing in the page.
Each sample gets `<name>.txt` (every line, the picture's text in place, pages separated by
form feeds) and `<name>.image-text.txt` (only the pictures' text, per page).
"""

from __future__ import annotations

import io
from pathlib import Path

import docx
import numpy as np
import pptx
from docx.shared import Inches as DocxInches
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pptx.util import Inches

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
NOTICE = ["DOCK 4 IS CLOSED FOR REPAIRS", "Use dock 6 until 21 March", "Forklift charging in bay 9"]
LABEL = ["RETURN TO NORTHWIND LEEDS", "Unit 4, Thorpe Park", "Returns desk open 8 to 18"]


def text_picture(lines: list[str], size: int = 44) -> bytes:
    """A white PNG with `lines` in black DejaVu Sans of `size` pixels, framed by a rule."""
    font = ImageFont.truetype(str(FONT), size)
    width = max(int(font.getlength(line)) for line in lines) + 80
    height = len(lines) * int(size * 1.5) + 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((6, 6, width - 7, height - 7), outline="black", width=3)
    for index, line in enumerate(lines):
        draw.text((40, 30 + index * int(size * 1.5)), line, font=font, fill="black")
    return _png(image)


def logo() -> bytes:
    """A 32-pixel logo with one letter: too small to be worth OCR."""
    image = Image.new("RGB", (32, 32), (20, 60, 140))
    ImageDraw.Draw(image).text((9, 4), "N", font=ImageFont.truetype(str(FONT), 22),
                               fill="white")
    return _png(image)


def photo() -> bytes:
    """A photograph-like picture without text: blurred, seeded colour noise."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(300, 400, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(4))
    return _png(image)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_docx(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """A 2-page notice: the photographed sign on page 1, a photo and the logo on page 2."""
    document = docx.Document()
    document.add_picture(io.BytesIO(logo()), width=DocxInches(0.4))
    title = "Leeds Loading Dock Notice"
    document.add_heading(title, level=0)
    before = "The sign below was put up at the goods entrance on 3 March."
    after = "Drivers were told at the morning briefing."
    document.add_paragraph(before)
    document.add_picture(io.BytesIO(text_picture(NOTICE)), width=DocxInches(5))
    document.add_paragraph(after)
    document.add_page_break()
    heading, closing = "Yard photo", "The yard was resurfaced in February."
    document.add_heading(heading, level=1)
    document.add_picture(io.BytesIO(photo()), width=DocxInches(3))
    document.add_paragraph(closing)
    _save(document, path)
    return [[title, before, *NOTICE, after], [heading, closing]], [NOTICE, []]


def make_pptx(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Three slides: a title, the returns label as a picture, a photo with a caption."""
    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[0])
    first.shapes.title.text = "Returns process 2025"
    first.placeholders[1].text = "Store managers briefing"
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "New returns label"
    second.shapes.add_picture(io.BytesIO(text_picture(LABEL)), Inches(1), Inches(2),
                              width=Inches(8))
    second.shapes.add_picture(io.BytesIO(logo()), Inches(9.3), Inches(6.9), width=Inches(0.4))
    third = presentation.slides.add_slide(presentation.slide_layouts[5])
    third.shapes.title.text = "Returns desk"
    third.shapes.add_picture(io.BytesIO(photo()), Inches(2), Inches(2), width=Inches(5))
    caption = third.shapes.add_textbox(Inches(2), Inches(6), Inches(6), Inches(1))
    caption.text_frame.text = "The desk moved next to the customer lift."
    _save(presentation, path)
    pages = [["Returns process 2025", "Store managers briefing"], ["New returns label", *LABEL],
             ["Returns desk", "The desk moved next to the customer lift."]]
    return pages, [[], LABEL, []]


def _save(document: docx.document.Document | pptx.presentation.Presentation,
          path: Path) -> None:
    from make_office_samples import FIXED, fixed_zip  # the one deterministic ZIP writer

    document.core_properties.created = document.core_properties.modified = FIXED
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(fixed_zip(buffer.getvalue()))


def make_image_samples(out: Path) -> None:
    """Write both samples with their expected texts into `out`."""
    from make_office_samples import write_text

    for name, make in (("notice", make_docx), ("returns", make_pptx)):
        pages, images = make(out / f"{name}.{'docx' if name == 'notice' else 'pptx'}")
        write_text(out / f"{name}.txt", pages)
        write_text(out / f"{name}.image-text.txt", images)
