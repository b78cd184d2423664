"""The ingest stages composed: bytes → pages → clean pages → chunks → vectors.

`run_ingest` is pure computation: no database, no jobs. The job worker calls it and writes the
result; tests and benchmarks call it directly. It reports progress through a callback, which is
also its cancellation point: a callback that raises (the worker lost its job, the document was
deleted, the process is shutting down) stops the run between pages or batches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal

from PIL import Image

from ingest.chunking import chunk_pages
from ingest.cleanup import CleanupBounds, TextCleaner, clean_page
from ingest.embedding import Embedder
from ingest.errors import NoReadableText
from ingest.headings import document_fonts
from ingest.ocr import OcrPage, TesseractOcr
from ingest.ocr_pool import PageOcr, SerialOcr
from ingest.read_pages import read_pages
from ingest.running_lines import drop_running_lines
from ingest.types import Chunk, CleanPage, Limits, PageText, PageWarning, Sniffed

log = logging.getLogger(__name__)
Stage = Literal["reading", "ocr", "cleanup", "chunking", "embedding", "storing"]
STAGES: tuple[Stage, ...] = ("reading", "ocr", "cleanup", "chunking", "embedding", "storing")

ProgressCallback = Callable[[Stage, int, int | None], None]
"""`on_progress(stage, pages_done, pages_total)`; may raise to cancel the run."""
KnownVectors = Callable[[Chunk], list[float] | None]
"""`known(chunk)`: a vector already computed for exactly this chunk's `embed_text` (by the
document's previous version), or None; such a chunk is not embedded again."""


def nothing_known(chunk: Chunk) -> list[float] | None:
    """The default `KnownVectors`: every chunk is embedded."""
    return None


def _no_progress(stage: Stage, done: int, total: int | None) -> None:
    """The default progress callback: ignore."""


@dataclass(frozen=True)
class IngestContext:
    """Everything the stages need, built once by the composition root and shared across jobs.

    `ocr` reads page images (an `OcrPool` or a `SerialOcr`; None is fine for text-only input);
    `cleaner` is the optional LLM repair of OCR pages; chunk sizes are in the embedder's own
    tokens; `embed_batch` is how many chunks go to the embedder per call (each
    call is a progress/cancellation point).
    """

    embedder: Embedder
    limits: Limits = field(default_factory=Limits)
    ocr: PageOcr | None = None
    cleaner: TextCleaner | None = None
    cleanup_bounds: CleanupBounds = field(default_factory=CleanupBounds)
    max_tokens: int = 200
    overlap: int = 30
    dpi: int = 200
    embed_batch: int = 64
    on_progress: ProgressCallback = _no_progress


@dataclass
class IngestResult:
    """The cleaned pages, their chunks with one vector each, and seconds spent per stage.

    Also what the document's processing log reports: the pages' warnings (failed pages
    included), the characters removed to make the text storable, and the running header and
    footer lines dropped.
    """

    pages: list[CleanPage]
    chunks: list[Chunk]
    embeddings: list[list[float]]
    timings: dict[str, float]
    warnings: list[PageWarning] = field(default_factory=list)
    chars_removed: int = 0
    running_lines_dropped: int = 0
    chunks_reused: int = 0

    @property
    def chunks_embedded(self) -> int:
        """How many chunks the embedder computed (the rest reused a known vector)."""
        return len(self.chunks) - self.chunks_reused

    @property
    def ocr_pages(self) -> int:
        """How many pages were read by OCR rather than from a text layer."""
        return sum(1 for page in self.pages if page.method == "ocr" and page.error is None)


class _Clock:
    """Accumulates wall time per stage name."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.timings[name] = self.timings.get(name, 0.0) + elapsed


class _ReadTracker:
    """Progress of the read stage; wraps the OCR runner to notice when OCR begins.

    The stage reported is "reading" until the first page image is handed to OCR, then "ocr".
    """

    def __init__(self, ocr: PageOcr, on_progress: ProgressCallback) -> None:
        self._ocr, self._on_progress = ocr, on_progress
        self.stage: Stage = "reading"
        self.done: int = 0
        self.total: int | None = None
        self.ocr_started: float | None = None

    def map(self, images: Iterable[Image.Image]) -> Iterator[OcrPage]:
        """The `PageOcr` seam, passed through; the first image pulled switches the stage."""

        def marked() -> Iterator[Image.Image]:
            for image in images:
                if self.ocr_started is None:
                    self.ocr_started, self.stage = time.perf_counter(), "ocr"
                    self._on_progress("ocr", self.done, self.total)
                yield image

        return self._ocr.map(marked())

    def on_page(self, done: int, total: int) -> None:
        """`read_pages`' per-page callback."""
        self.done, self.total = done, total
        self._on_progress(self.stage, done, total)


def read_stage(
    data: bytes, sniffed: Sniffed, ctx: IngestContext
) -> tuple[list[PageText], float | None]:
    """Raw text of every page (text layer or OCR), with progress per page read.

    Returns the pages and the `perf_counter` time OCR started (None when no page needed it).
    Without `ctx.ocr`, pages that need OCR are read by Tesseract in this process, in turn.
    """
    ctx.on_progress("reading", 0, None)
    tracker = _ReadTracker(ctx.ocr or SerialOcr(TesseractOcr(dpi=ctx.dpi)), ctx.on_progress)
    pages = read_pages(
        data, sniffed, limits=ctx.limits, ocr=tracker, dpi=ctx.dpi, on_page=tracker.on_page
    )
    return pages, tracker.ocr_started


def cleanup_stage(pages: list[PageText], ctx: IngestContext) -> tuple[list[CleanPage], int]:
    """Every page without its running headers and footers, normalised (and OCR pages repaired
    by the cleaner, when guarded-safe), and how many running lines were dropped; each page's
    `raw_text` stays as it was read, and a failed page keeps its error."""
    total = len(pages)
    printed = all(page.printed for page in pages)  # slides and sheets have no running lines
    bodies, dropped = drop_running_lines(pages) if printed else (pages, 0)
    if dropped:
        log.info("dropped %d running header/footer lines from %d pages", dropped, total)
    fonts = document_fonts(bodies)  # heading levels ranked over the whole document, not per page
    cleaned: list[CleanPage] = []
    for done, (page, body) in enumerate(zip(pages, bodies, strict=True)):
        ctx.on_progress("cleanup", done, total)
        clean = clean_page(body, ctx.cleaner, ctx.cleanup_bounds, fonts=fonts)
        failed = next((warning for warning in page.warnings if warning.failed), None)
        error = None if failed is None else failed.error()
        cleaned.append(replace(clean, raw_text=page.text, error=error))
    ctx.on_progress("cleanup", total, total)
    if not any(page.text.strip() for page in cleaned):
        raise NoReadableText("the document has no readable text", pages=total)
    return cleaned, dropped


def chunk_stage(pages: list[CleanPage], ctx: IngestContext) -> list[Chunk]:
    """Section-aware chunks sized in the embedder's tokens; at least one, or NoReadableText."""
    ctx.on_progress("chunking", len(pages), len(pages))
    chunks = chunk_pages(
        pages,
        token_counter=ctx.embedder.count_tokens,
        max_tokens=ctx.max_tokens,
        overlap=ctx.overlap,
        window=ctx.embedder.max_tokens,
    )
    if not chunks:
        raise NoReadableText("the document has no text to index", pages=len(pages))
    return chunks


def embed_stage(
    chunks: list[Chunk], pages_total: int, ctx: IngestContext,
    known: KnownVectors = nothing_known,
) -> tuple[list[list[float]], int]:
    """One vector per chunk (of its heading-prefixed `embed_text`), in batches, and how many
    came from `known` instead of the embedder.

    Chunks `known` has a vector for are not embedded; the rest go to the embedder in batches
    (a text that repeats is embedded once). Embedding is most of a digital document's time, so
    progress counts the pages whose chunks are all embedded (chunks are in page order), batch by
    batch, instead of standing still; when every chunk is known it goes straight to the end.
    """
    vectors: list[list[float] | None] = [known(chunk) for chunk in chunks]
    reused = sum(vector is not None for vector in vectors)
    wanted: dict[str, list[int]] = {}
    for index, vector in enumerate(vectors):
        if vector is None:
            wanted.setdefault(chunks[index].embed_text, []).append(index)
    texts = list(wanted)
    for start in range(0, len(texts), ctx.embed_batch):
        batch = texts[start : start + ctx.embed_batch]
        ctx.on_progress("embedding", chunks[wanted[batch[0]][0]].page_start - 1, pages_total)
        computed = ctx.embedder.embed(batch)
        if len(computed) != len(batch):
            raise RuntimeError(f"embedder returned {len(computed)} vectors for {len(batch)} texts")
        for text, vector in zip(batch, computed, strict=True):
            for index in wanted[text]:
                vectors[index] = vector
    ctx.on_progress("embedding", pages_total, pages_total)
    return [vector for vector in vectors if vector is not None], reused  # every one is set


def run_ingest(
    data: bytes, sniffed: Sniffed, ctx: IngestContext, known: KnownVectors = nothing_known
) -> IngestResult:
    """Run every stage on one document's bytes and return what should be stored.

    `known` offers vectors already computed for chunks of the same embedded text (a new
    version of a document reuses its previous version's); `chunks_reused` counts them.

    Raises `IngestError` subclasses for bad content (corrupt, encrypted, bomb, no text), and
    whatever `ctx.on_progress` raises to cancel. Timings, in seconds of wall time: "reading"
    (parsing and text layer, until the first page goes to OCR), "ocr" (from then until every
    page is read), "cleanup", "chunking", "embedding".
    """
    clock = _Clock()
    started = time.perf_counter()
    raw, ocr_started = read_stage(data, sniffed, ctx)
    finished = time.perf_counter()
    clock.timings["reading"] = (ocr_started or finished) - started
    clock.timings["ocr"] = finished - ocr_started if ocr_started is not None else 0.0
    with clock.stage("cleanup"):
        pages, dropped = cleanup_stage(raw, ctx)
    with clock.stage("chunking"):
        chunks = chunk_stage(pages, ctx)
    with clock.stage("embedding"):
        embeddings, reused = embed_stage(chunks, len(pages), ctx, known)
    return IngestResult(pages=pages, chunks=chunks, embeddings=embeddings, timings=clock.timings,
                        warnings=[w for page in raw for w in page.warnings],
                        chars_removed=sum(page.removed_chars for page in raw),
                        running_lines_dropped=dropped, chunks_reused=reused)
