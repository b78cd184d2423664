"""The OCR changes proposed for `ingest/ocr.py` and `ingest/ocr_pool.py`, as prototypes that
`bench.ingest --proposed` measures against the real pipeline.

The two changes (those files are owned by others): the 3x3 median despeckle as a numpy
sorting network (bit-identical to Pillow's MedianFilter(3), ~4x faster: `median3`,
`FastDespeckleOcr`), and pages handed to the OCR workers as raw pixels instead of PNG (no
encode in the parent, no decode in the worker: `RawPixelOcrPool`).
"""

from __future__ import annotations

import os
from typing import Any

from PIL import Image

from ingest.ocr import OcrPage
from ingest.ocr_pool import OcrPool, PageTask, worker_engine

_MEDIAN9_NETWORK = ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8),
                    (0, 3), (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4),
                    (4, 2))


def median3(gray: Image.Image) -> Image.Image:
    """3x3 median of an 'L' image, edges replicated (what Pillow's MedianFilter(3) gives)."""
    import numpy as np

    pixels = np.asarray(gray)
    padded = np.pad(pixels, 1, mode="edge")
    height, width = pixels.shape
    v = [padded[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)]
    for i, j in _MEDIAN9_NETWORK:
        v[i], v[j] = np.minimum(v[i], v[j]), np.maximum(v[i], v[j])
    out = Image.fromarray(np.ascontiguousarray(v[4]), mode="L")
    out.info.update(gray.info)
    return out


class FastDespeckleOcr:
    """`TesseractOcr` with the despeckle done by `median3` (picklable: module level)."""

    def __init__(self, dpi: int = 200) -> None:
        from ingest.ocr import TesseractOcr

        self.dpi = dpi
        self.inner = TesseractOcr(dpi=dpi, despeckle=False)

    def read(self, image: Image.Image) -> OcrPage:
        """See `TesseractOcr.read`; the despeckle, if the resolution calls for it, is `median3`."""
        from ingest.ocr import DESPECKLE_MIN_DPI, _image_dpi

        gray = image.convert("L")
        gray.info.update(image.info)
        if _image_dpi(image, self.dpi) >= DESPECKLE_MIN_DPI:
            gray = median3(gray)
        return self.inner.read(gray)


def _read_raw(mode: str, size: tuple[int, int], info: dict[str, Any], data: bytes
              ) -> tuple[int, OcrPage]:
    """Worker task: rebuild the page from raw pixels and read it."""
    image = Image.frombytes(mode, size, data)
    image.info.update(info)
    return os.getpid(), worker_engine().read(image)


class RawPixelOcrPool(OcrPool):
    """`OcrPool` that hands pages to its workers as raw pixels (mode, size, bytes) rather than
    PNG; everything else, `map` included, is the real pool's."""

    def page_task(self, image: Image.Image) -> PageTask:
        """See `OcrPool.page_task`."""
        info = {"dpi": image.info["dpi"]} if "dpi" in image.info else {}
        return _read_raw, (image.mode, image.size, info, image.tobytes())
