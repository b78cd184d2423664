"""The text layer of a PDF (pypdf), the decision whether a page needs OCR, and page rendering.

Lines are rebuilt from pypdf's text fragments rather than taken from its plain output: fragments
that follow each other on the same baseline form one line (so a table row stays one line), and
each line keeps its font size and boldness, which later stages use to recover headings.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium
from PIL import Image
from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from ingest.errors import CorruptDocument, EncryptedDocument, TextLayerUnreadable, TooManyPages
from ingest.types import Limits, TextLine

BOLD_MARKERS = ("bold", "black", "heavy")
Matrix = list[float]


@dataclass
class PdfDoc:
    """An opened (and if need be decrypted) PDF: the pypdf reader plus the original bytes."""

    reader: PdfReader
    data: bytes
    page_count: int

    def page_lines(self, index: int) -> list[TextLine]:
        """The text lines of page `index` (0-based); TextLayerUnreadable when pypdf fails."""
        try:
            return extract_lines(self.reader.pages[index])
        except Exception as exc:  # pypdf raises many types on damaged content streams
            raise TextLayerUnreadable("the page's text layer cannot be read", page=index + 1,
                                      reason=repr(exc)[:300]) from exc

    def image_count(self, index: int) -> int:
        """How many images page `index` draws (0 when its resources can't be read)."""
        try:
            return len(self.reader.pages[index].images)
        except Exception:  # a damaged image dictionary must not stop the text layer
            return 0


def open_pdf(data: bytes, limits: Limits) -> PdfDoc:
    """Open PDF bytes; raise CorruptDocument, EncryptedDocument or TooManyPages.

    An encrypted PDF whose user password is empty (restrictions only) is decrypted and read.
    """
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedDocument("PDF is protected by a password")
        page_count = len(reader.pages)
    except EncryptedDocument:
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        raise EncryptedDocument("PDF encryption is not supported", reason=str(exc)) from exc
    except Exception as exc:  # pypdf raises PdfReadError but also KeyError, ValueError, ...
        raise CorruptDocument("PDF cannot be parsed", reason=str(exc)) from exc
    if page_count == 0:
        raise CorruptDocument("PDF has no pages")
    if page_count > limits.max_pages:
        raise TooManyPages("PDF has too many pages", pages=page_count, limit=limits.max_pages)
    return PdfDoc(reader, data, page_count)


@dataclass
class _Line:
    y: float
    parts: list[str] = field(default_factory=list)
    last_end: float = 0.0
    sizes: dict[float, int] = field(default_factory=dict)
    bold_chars: int = 0
    chars: int = 0

    def add(self, text: str, x: float, size: float, bold: bool) -> None:
        gap = self.parts and x > self.last_end
        if gap and not self.parts[-1].endswith(" ") and not text.startswith(" "):
            self.parts.append(" ")
        self.parts.append(text)
        # Where this fragment ends, over-estimated (0.6 em a character) so that a font change
        # inside a word adds no space, while the next table cell, further right, gets one.
        self.last_end = x + 0.6 * size * len(text) + 0.25 * size
        weight = len(text.strip())
        self.sizes[round(size, 1)] = self.sizes.get(round(size, 1), 0) + weight
        self.chars += weight
        self.bold_chars += weight if bold else 0

    def to_text_line(self) -> TextLine:
        size = max(self.sizes.items(), key=lambda kv: kv[1])[0] if self.sizes else None
        bold = self.chars > 0 and self.bold_chars * 2 > self.chars
        return TextLine(" ".join("".join(self.parts).split()), size, bold)


def extract_lines(page: Any) -> list[TextLine]:
    """Rebuild a pypdf page's text lines in content order, with font size and boldness."""
    lines: list[_Line] = []

    def visit(text: str, cm: Matrix, tm: Matrix, font: Any, font_size: float) -> None:
        if not text:
            return
        _a, _b, c, d, x, y = _multiply(tm, cm)
        size = abs(font_size) * math.hypot(c, d) or abs(font_size)
        bold = _is_bold(font)
        # pypdf ends most fragments with "\n" even inside a table row, so lines are decided by
        # baseline; only a break inside a fragment forces a new line.
        for n, piece in enumerate(text.split("\n")):
            if not piece.strip():
                continue
            if n > 0 or not lines or abs(lines[-1].y - y) > 0.5 * size:
                lines.append(_Line(y=y))
            lines[-1].add(piece, x, size, bold)

    page.extract_text(visitor_text=visit)
    result = [line.to_text_line() for line in lines]
    return [line for line in result if line.text]


def needs_ocr(text: str, image_count: int, *, min_chars: int = 40,
              max_garbage_ratio: float = 0.3) -> bool:
    """Whether a page's text layer is too thin or too garbled to trust, so OCR should read it.

    True when the page has images and fewer than `min_chars` letters/digits (a scan, maybe
    with a stray caption), when it has almost no text at all (under 3 letters/digits: the
    text may be drawn as vector outlines), or when more than `max_garbage_ratio` of its
    visible characters are replacement, private-use or control characters (fonts without a
    usable character map).
    """
    visible = [ch for ch in text if not ch.isspace()]
    alnum = sum(ch.isalnum() for ch in visible)
    if alnum < 3 or (image_count > 0 and alnum < min_chars):
        return True
    garbage = sum(_is_garbage(ch) for ch in visible)
    return garbage > max_garbage_ratio * len(visible)


def render_page(data: bytes, page_index: int, dpi: int, *,
                max_pixels: int | None = None) -> Image.Image:
    """Render one PDF page to a greyscale image at `dpi` (0-based index).

    When `max_pixels` is given the resolution is lowered as needed to stay within it, so a
    page with an enormous media box cannot exhaust memory. The image's `info["dpi"]` holds
    the resolution actually used.
    """
    try:
        document = pdfium.PdfDocument(data, password="")
    except pdfium.PdfiumError as exc:
        raise CorruptDocument("PDF cannot be rendered", reason=str(exc)) from exc
    try:
        page = document[page_index]
        width, height = page.get_size()
        scale = dpi / 72
        if max_pixels is not None and width * height * scale * scale > max_pixels:
            scale = math.sqrt(max_pixels / (width * height))
        image: Image.Image = page.render(scale=scale, grayscale=True).to_pil().convert("L")
    except pdfium.PdfiumError as exc:
        raise CorruptDocument("PDF page cannot be rendered", page=page_index + 1,
                              reason=str(exc)) from exc
    finally:
        document.close()
    image.info["dpi"] = (scale * 72, scale * 72)
    return image


def _multiply(tm: Matrix, cm: Matrix) -> tuple[float, float, float, float, float, float]:
    """tm × cm for PDF's row-vector affine matrices [a b c d e f]."""
    a = tm[0] * cm[0] + tm[1] * cm[2]
    b = tm[0] * cm[1] + tm[1] * cm[3]
    c = tm[2] * cm[0] + tm[3] * cm[2]
    d = tm[2] * cm[1] + tm[3] * cm[3]
    e = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
    f = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
    return a, b, c, d, e, f


def _is_bold(font: Any) -> bool:
    try:
        name = str(font.get("/BaseFont", "")).lower() if font else ""
        descriptor = font.get("/FontDescriptor") if font else None
        weight = float(descriptor.get_object().get("/FontWeight", 0)) if descriptor else 0.0
    except Exception:  # a malformed font dictionary only costs the bold flag
        return False
    return any(marker in name for marker in BOLD_MARKERS) or weight >= 600


def _is_garbage(ch: str) -> bool:
    code = ord(ch)
    return ch == "\ufffd" or 0xE000 <= code <= 0xF8FF or (code < 32 and ch not in "\t\n\r")
