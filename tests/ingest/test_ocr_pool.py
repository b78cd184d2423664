"""`OcrPool.page_task`: a subclass hands pages to the workers its own way and keeps `map` (the
look-ahead, the order, the error handling) as it is; what `bench/ingest.py` relies on."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from PIL import Image

from ingest.ocr import OcrPage
from ingest.ocr_pool import OcrPool, PageTask, worker_engine


class SizeEngine:
    """Answers with the width of the image it was given and the process it ran in."""

    def read(self, image: Image.Image) -> OcrPage:
        return OcrPage(f"{image.width} {os.getpid()}", 100.0, 3, 3, 0)


def read_raw(mode: str, size: tuple[int, int], info: dict[str, Any], data: bytes,
             ) -> tuple[int, OcrPage]:
    """Worker task: the page rebuilt from raw pixels, read by this worker's engine."""
    image = Image.frombytes(mode, size, data)
    image.info.update(info)
    page = worker_engine().read(image)
    return os.getpid(), replace(page, text=f"raw {page.text}")


class RawPixelPool(OcrPool):
    """Pages as raw pixels instead of PNG."""

    def page_task(self, image: Image.Image) -> PageTask:
        return read_raw, (image.mode, image.size, dict(image.info), image.tobytes())


def test_a_subclass_hands_pages_over_its_own_way_through_the_real_map() -> None:
    images = [Image.new("L", (20 + i, 10), 255) for i in range(7)]
    with RawPixelPool(workers=2, engine_factory=SizeEngine) as pool:
        pages = list(pool.map(images))
        assert pool.pids_seen and os.getpid() not in pool.pids_seen
    assert [page.text.split()[:2] for page in pages] == [["raw", str(20 + i)] for i in range(7)]
    assert {int(page.text.split()[2]) for page in pages} <= pool.pids_seen
