"""OCR of a document's pages in which a page that fails costs that page, not the document.

`PageOcr.map` stops at the first error. `ocr_each` reads the pages through it and, when it
raises for a page, reads that page again on its own: a page that fails alone is given up
(yielded with its error), one that reads fine alone was lost with another (a worker process
that dies takes every page in flight with it, not only the one that killed it), and OCR goes
on with the pages after it. A page whose image cannot be made (a damaged frame, a frame with
too many pixels, a page pdfium cannot render) fails without reaching OCR. Errors that are not
an `IngestError` (a job lost or shutting down, raised by the progress callback between pages)
stop everything, as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence

from PIL import Image

from ingest.errors import IngestError
from ingest.ocr import OcrPage
from ingest.ocr_pool import PageOcr

PageResult = tuple[int, OcrPage | IngestError]
"""A page's key (as given to `ocr_each`) and what OCR read on it, or why it could not."""


def ocr_each(ocr: PageOcr, pages: Sequence[int],
             image_of: Callable[[int], Image.Image]) -> Iterator[PageResult]:
    """OCR every page of `pages` (keys that `image_of` turns into page images) through `ocr`,
    yielding each key with its `OcrPage` or the `IngestError` that lost it, in reading order
    except that pages whose image could not be made come as soon as that is known."""
    todo = list(pages)
    suspect: int | None = None  # the page OCR last failed on, to be read again on its own
    while todo:
        batch = tuple(todo[:1] if todo[0] == suspect else todo)
        sent: deque[int] = deque()
        unmade: list[PageResult] = []
        try:
            for result in ocr.map(_images(batch, image_of, sent, unmade)):
                yield from _drain(unmade, todo)
                page = sent.popleft()
                todo.remove(page)
                yield page, result
        except IngestError as exc:
            if not sent:  # not about a page: OCR itself cannot run
                raise
            if sent[0] == suspect:  # it failed on its own
                todo.remove(sent[0])
                yield sent[0], exc
            suspect = sent[0]
        yield from _drain(unmade, todo)


def _images(pages: tuple[int, ...], image_of: Callable[[int], Image.Image], sent: deque[int],
            unmade: list[PageResult]) -> Iterator[Image.Image]:
    """The page images, noting in `sent` which pages went to OCR and in `unmade` the pages
    whose image could not be made."""
    for page in pages:
        try:
            image = image_of(page)
        except IngestError as exc:
            unmade.append((page, exc))
            continue
        sent.append(page)
        yield image


def _drain(unmade: list[PageResult], todo: list[int]) -> Iterator[PageResult]:
    while unmade:
        page, error = unmade.pop(0)
        todo.remove(page)
        yield page, error
