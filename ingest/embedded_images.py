"""Text in the pictures of Office and ODT files: OCR'd and placed where each picture sits.

The format readers stay pure: where a picture sits they write `image_mark(member)`, the name of
the image's ZIP member between two private-use characters. `resolve_image_marks` then reads
the marked images through the same `PageOcr` PDF pages go through (an `OcrPool` of Tesseract
processes, `OMP_THREAD_LIMIT=1`) and puts in place of each mark what it read, as a Markdown
blockquote whose first line starts with `[image text]`:

    > [image text] Quarterly target
    > 4,200 units shipped

so a reader (and an answer citing it) can tell that the words came from a picture. A mark
whose image is not read leaves nothing behind.

An image is read only when it is worth it and safe: a raster format Pillow decodes (PNG,
JPEG, GIF, BMP, TIFF, WebP; EMF, WMF and SVG are left out), at least `min_side` pixels on each
side and `min_pixels` in all (icons, bullets and small logos hold no text worth the time),
and at most `max_pixels` (checked from its header before any pixel is decoded, as
`ingest.images` does for uploads; the member itself was bounded by `packages.open_package`).
At most `max_images` distinct images of a document are read, in reading order. A reading
whose mean word confidence is under `min_confidence`, or without a letter or digit, is
dropped (a photograph reads as a handful of unsure "words"); an image OCR fails on is
skipped, never the document.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps

from ingest.errors import IngestError
from ingest.images import open_image
from ingest.ocr import OcrPage
from ingest.ocr_pages import ocr_each
from ingest.ocr_pool import PageOcr
from ingest.types import Limits

log = logging.getLogger("lectern.ingest")

IMAGE_TEXT_LABEL = "[image text]"
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARK = re.compile(f"{_OPEN}([^{_CLOSE}]*){_CLOSE}")
_RASTER = (".png", ".jpg", ".jpeg", ".jpe", ".gif", ".bmp", ".tif", ".tiff", ".webp")
_BORDER = 16  # white pixels added around an image: Tesseract misses text touching the edge


@dataclass(frozen=True)
class ImageBounds:
    """Which embedded images are OCR'd, and how many (see the module docstring)."""

    max_images: int = 20
    min_side: int = 40
    min_pixels: int = 30_000
    max_pixels: int = 25_000_000
    min_confidence: float = 55.0


DEFAULT_IMAGE_BOUNDS = ImageBounds()


def image_mark(member: str) -> str:
    """The mark a reader writes where the image stored as ZIP member `member` sits."""
    return _OPEN + member.lstrip("/").replace(_CLOSE, "") + _CLOSE


def has_image_marks(pages: Sequence[str]) -> bool:
    """Whether any page holds an image mark."""
    return any(_OPEN in page for page in pages)


def resolve_image_marks(pages: list[str], archive: zipfile.ZipFile, ocr: PageOcr | None,
                        limits: Limits, bounds: ImageBounds = DEFAULT_IMAGE_BOUNDS) -> list[str]:
    """`pages` with each image mark replaced by the image's text as a `[image text]`
    blockquote (at the image's first place only, when it is shown several times), or removed
    (no `ocr`, an image not worth reading, nothing read)."""
    if not has_image_marks(pages):
        return pages
    texts = {} if ocr is None else _read_images(_candidates(pages, archive, limits, bounds),
                                                archive, ocr, limits, bounds)

    return [_place(page, texts) if _OPEN in page else page for page in pages]


def _candidates(pages: list[str], archive: zipfile.ZipFile, limits: Limits,
                bounds: ImageBounds) -> list[str]:
    """The distinct marked members worth reading, in reading order, at most `max_images`."""
    names = set(archive.namelist())
    chosen: list[str] = []
    for member in dict.fromkeys(m for page in pages for m in _MARK.findall(page)):
        if len(chosen) >= bounds.max_images:
            log.info("embedded images: only the first %d are read", bounds.max_images)
            break
        if member in names and member.lower().endswith(_RASTER) and _fits(
                archive, member, limits, bounds):
            chosen.append(member)
    return chosen


def _fits(archive: zipfile.ZipFile, member: str, limits: Limits, bounds: ImageBounds) -> bool:
    """Whether the image's header declares a size within the bounds (no pixel decoded)."""
    try:
        with archive.open(member) as handle, Image.open(handle) as image:
            width, height = image.size
    except Exception:  # any image Pillow cannot identify or size is simply not read
        return False
    pixels = width * height
    return (min(width, height) >= bounds.min_side and pixels >= bounds.min_pixels
            and pixels <= min(bounds.max_pixels, limits.max_image_pixels))


def _read_images(members: list[str], archive: zipfile.ZipFile, ocr: PageOcr, limits: Limits,
                 bounds: ImageBounds) -> dict[str, str]:
    image_limits = Limits(max_bytes=limits.max_bytes, max_pages=limits.max_pages,
                          max_image_pixels=min(bounds.max_pixels, limits.max_image_pixels))

    def image_of(index: int) -> Image.Image:
        gray = open_image(archive.read(members[index]), image_limits).frame(0)
        return ImageOps.expand(gray, border=_BORDER, fill=255)

    texts: dict[str, str] = {}
    for index, result in ocr_each(ocr, range(len(members)), image_of):
        if isinstance(result, IngestError):
            log.info("embedded image %s not read: %s", members[index], result.code)
        elif _worth_keeping(result, bounds):
            texts[members[index]] = result.text
    return texts


def _worth_keeping(page: OcrPage, bounds: ImageBounds) -> bool:
    return page.mean_confidence >= bounds.min_confidence and any(
        ch.isalnum() for ch in page.text)


def _blockquote(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    return "\n".join(f"> {IMAGE_TEXT_LABEL} {line}" if i == 0 else f"> {line}"
                     for i, line in enumerate(lines))


def _place(page: str, texts: dict[str, str]) -> str:
    """`page` with its marks replaced: a mark's blockquote goes after its paragraph, or after
    the whole table when the image sits in a table cell (a table row stays one line)."""
    out: list[str] = []
    pending: list[str] = []
    for line in page.split("\n"):
        found = [text for m in _MARK.findall(line) if (text := texts.pop(m, ""))]
        line = _MARK.sub("", line).rstrip()
        if not line.lstrip().startswith("|") and pending:
            out.extend(["", "\n\n".join(pending), ""])
            pending = []
        if line.strip() or not found:
            out.append(line)
        pending.extend(_blockquote(text) for text in found)
        if not line.lstrip().startswith("|") and pending:
            out.extend(["", "\n\n".join(pending), ""])
            pending = []
    if pending:
        out.extend(["", "\n\n".join(pending)])
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
