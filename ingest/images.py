"""Page images: opening uploaded PNG/JPEG/TIFF safely, and measuring the ink on a page.

Opening guards against decompression bombs by checking each frame's pixel count against
`Limits.max_image_pixels` before any pixel is decoded (Pillow's `Image.open` only reads the
header). The ink measures let OCR notice when it has skipped part of a page, and when the
characters are too small for it to read well.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError
from scipy import ndimage

from ingest.errors import CorruptDocument, ImageTooLarge, TooManyPages
from ingest.types import Limits

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels
# A cell (about 3 mm square) counts as holding text when this share of it is ink: well above
# a scanner's dust specks, well below a line of body text.
TEXT_CELL_DENSITY = 0.04


@dataclass
class ImageDoc:
    """An opened image upload; `frame(i)` decodes one page at a time, upright and greyscale."""

    image: Image.Image
    page_count: int
    limits: Limits

    def frame(self, index: int) -> Image.Image:
        """Frame (page) `index` as an 'L' image, its size checked before it is decoded.

        Raises CorruptDocument (frame missing or damaged) or ImageTooLarge for this frame
        alone: the other frames can still be read.
        """
        try:
            self.image.seek(index)
        except EOFError as exc:
            raise CorruptDocument("image frame is missing", frame=index) from exc
        check_pixels(self.image.size, self.limits)
        try:
            self.image.load()
            frame = ImageOps.exif_transpose(self.image)
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptDocument("image data is damaged or truncated", frame=index,
                                  reason=str(exc)) from exc
        return to_gray(frame)

    def frames(self) -> Iterator[Image.Image]:
        """Yield each frame in turn (see `frame`); the first bad frame stops the iteration."""
        for index in range(self.page_count):
            yield self.frame(index)


def open_image(data: bytes, limits: Limits) -> ImageDoc:
    """Open PNG/JPEG/TIFF bytes lazily; raise CorruptDocument, TooManyPages or ImageTooLarge."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        page_count = int(getattr(image, "n_frames", 1))
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge("image has too many pixels", limit=limits.max_image_pixels) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptDocument("image cannot be read", reason=str(exc)) from exc
    if page_count > limits.max_pages:
        raise TooManyPages("image has too many frames", pages=page_count,
                           limit=limits.max_pages)
    check_pixels(image.size, limits)
    return ImageDoc(image, page_count, limits)


def check_pixels(size: tuple[int, int], limits: Limits) -> None:
    """Raise ImageTooLarge when width × height exceeds `limits.max_image_pixels`."""
    width, height = size
    if width * height > limits.max_image_pixels:
        raise ImageTooLarge("image has too many pixels", width=width, height=height,
                            pixels=width * height, limit=limits.max_image_pixels)


def to_gray(image: Image.Image) -> Image.Image:
    """Greyscale copy for OCR: transparency flattened onto white, 16-bit scaled to 8-bit."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    elif image.mode.startswith("I;16") or image.mode in ("I", "F"):
        image = image.convert("I").point(lambda v: v * (1 / 256))
    gray = image.convert("L")
    if "dpi" in image.info:
        gray.info["dpi"] = image.info["dpi"]
    return gray


def otsu_threshold(gray: Image.Image) -> int:
    """Grey level that best separates ink from paper (Otsu's method on the histogram)."""
    hist = gray.histogram()[:256]
    total = sum(hist)
    weighted_total = sum(level * count for level, count in enumerate(hist))
    background = weighted = 0
    best, threshold = -1.0, 127
    for level, count in enumerate(hist):
        background += count
        if background == 0:
            continue
        foreground = total - background
        if foreground == 0:
            break
        weighted += level * count
        gap = weighted / background - (weighted_total - weighted) / foreground
        between = background * foreground * gap * gap
        if between > best:
            best, threshold = between, level
    return threshold


def has_ink(gray: Image.Image) -> bool:
    """Whether an 'L' image has any clearly dark pixel (below mid-grey)."""
    low = gray.getextrema()[0]
    return isinstance(low, (int, float)) and low < 128


def ink_mask(gray: Image.Image) -> Image.Image:
    """'L' mask, 255 where the page is ink; empty for a page with no dark pixels."""
    if not has_ink(gray):
        return Image.new("L", gray.size, 0)
    threshold = min(otsu_threshold(gray), 200)
    return gray.point(lambda v: 255 if v <= threshold else 0)


def text_cells(mask: Image.Image, cell: int) -> int:
    """How many `cell`-pixel squares of the mask are dense enough in ink to hold text."""
    means = mask.reduce(cell)
    cutoff = round(255 * TEXT_CELL_DENSITY)
    return means.point(lambda v: 255 if v >= cutoff else 0).histogram()[255]


def character_size(gray: Image.Image) -> float:
    """Median size in pixels of the page's ink blobs shaped like characters; 0 when it has none.

    A blob's size is the longer side of its bounding box, so a page scanned sideways measures
    the same as upright. Specks under 4 pixels, and blobs over a tenth of the page or much
    wider than tall (rules, merged words), are not counted. Dot-matrix print measures as its
    dots, i.e. small: callers must treat a small size as "maybe small", not as fact.
    """
    pixels = np.asarray(ink_mask(gray)) > 0
    labels, _count = ndimage.label(pixels)
    height, width = pixels.shape
    sizes = []
    for found in ndimage.find_objects(labels):
        if found is None:
            continue
        rows, cols = found[0].stop - found[0].start, found[1].stop - found[1].start
        if 4 <= rows <= height / 10 and cols <= width / 10 and cols <= 3 * rows:
            sizes.append(max(rows, cols))
    return float(np.median(sizes)) if sizes else 0.0


def uncovered_text_ratio(gray: Image.Image, boxes: list[Box], dpi: int) -> float:
    """Share of the page's text-like ink cells that lie outside every box (0 when no ink).

    A reading that found every block leaves only dust and rules uncovered (a few per cent);
    one that dropped a block of text leaves the block's cells uncovered.
    """
    ink = ink_mask(gray)
    cell = max(4, dpi // 8)
    total = text_cells(ink, cell)
    if total == 0:
        return 0.0
    covered = Image.new("L", ink.size, 0)
    draw = ImageDraw.Draw(covered)
    pad = max(1, dpi // 50)
    for left, top, right, bottom in boxes:
        draw.rectangle((left - pad, top - pad, right + pad, bottom + pad), fill=255)
    outside = Image.composite(Image.new("L", ink.size, 0), ink, covered)
    return text_cells(outside, cell) / total
