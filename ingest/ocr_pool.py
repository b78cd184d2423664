"""Running OCR over many page images: in worker processes (`OcrPool`) or inline (`SerialOcr`).

Both offer `map(images) -> Iterator[OcrPage]`, yielding results in input order; the ingest
stage `read_pages` takes either. The pool sends each image to a worker as PNG bytes (its
`page_task`, which a subclass may replace to hand pages over another way), keeps a bounded
number of pages in flight (so a 500-page scan is never all in memory), and turns a dead or
stuck worker into `OcrFailed` instead of a hang.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, Protocol

from PIL import Image

from ingest.errors import IngestError, OcrFailed
from ingest.ocr import OcrEngine, OcrPage, TesseractOcr

EngineFactory = Callable[[], OcrEngine]
PageTask = tuple[Callable[..., tuple[int, OcrPage]], tuple[Any, ...]]
"""A page on its way to a worker: a module-level function the worker runs and its picklable
arguments; the function returns (the worker's pid, the page's `OcrPage`)."""


class PageOcr(Protocol):
    """Anything that OCRs a stream of page images and yields their results in order."""

    def map(self, images: Iterable[Image.Image]) -> Iterator[OcrPage]:
        """Yield one `OcrPage` per image, in the order of `images`; raises `IngestError`."""
        ...


class SerialOcr:
    """`PageOcr` that runs one engine in the calling process, one page after another."""

    def __init__(self, engine: OcrEngine) -> None:
        self.engine = engine

    def map(self, images: Iterable[Image.Image]) -> Iterator[OcrPage]:
        """Read each image in turn; an engine error that is not an `IngestError` becomes
        `OcrFailed`, as it does in `OcrPool`."""
        for image in images:
            try:
                page = self.engine.read(image)
            except IngestError:
                raise
            except Exception as exc:
                raise OcrFailed("OCR of a page failed", reason=repr(exc)) from exc
            yield page


_worker_engine: OcrEngine | None = None


def _init_worker(factory: EngineFactory) -> None:
    """Worker start-up: one OpenMP thread for Tesseract, one engine per process."""
    global _worker_engine
    os.environ["OMP_THREAD_LIMIT"] = "1"
    # Ctrl-C reaches the whole process group; the parent decides when the pool stops, so a
    # terminal interrupt must not kill OCR mid-page and cost the running job an attempt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Pages arrive from our own parent, already checked against Limits.max_image_pixels;
    # Pillow's global bomb guard would only refuse large pages a deployment allowed.
    Image.MAX_IMAGE_PIXELS = None
    _worker_engine = factory()


def worker_engine() -> OcrEngine:
    """The engine of this OCR worker process (for `PageTask` functions, which run there)."""
    if _worker_engine is None:  # pragma: no cover - the initializer always runs first
        raise OcrFailed("OCR worker was not initialised")
    return _worker_engine


def _read_png(png: bytes) -> tuple[int, OcrPage]:
    """Worker task: decode one page image and read it; returns (worker pid, result)."""
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return os.getpid(), worker_engine().read(image)


def _to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    dpi = image.info.get("dpi")
    extra = {"dpi": dpi} if dpi else {}
    image.save(buffer, format="PNG", compress_level=1, **extra)
    return buffer.getvalue()


class OcrPool:
    """`PageOcr` over a pool of worker processes, each holding its own engine.

    `engine_factory` must be picklable (a module-level class or function, or a
    `functools.partial` of one): workers are started with `mp_context` ("spawn" by default,
    safe in a threaded server). `page_timeout` bounds the wait for any one page, in seconds.
    `pids_seen` records which worker processes have returned results. `map` may run in
    several threads at once; their pages share the workers.
    """

    def __init__(self, workers: int, engine_factory: EngineFactory = TesseractOcr, *,
                 page_timeout: float = 600.0, mp_context: str = "spawn") -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.engine_factory = engine_factory
        self.page_timeout = page_timeout
        self.mp_context = mp_context
        self.pids_seen: set[int] = set()
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> OcrPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers, dropping pages not yet started; safe to call twice."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def map(self, images: Iterable[Image.Image]) -> Iterator[OcrPage]:
        """OCR `images` in parallel, yielding results in input order.

        At most two pages per worker are in flight. Raises `OcrFailed` when a worker dies
        or a page takes longer than `page_timeout`; the pool starts fresh workers next time.
        """
        executor = self._ensure_executor()
        pending: deque[Future[tuple[int, OcrPage]]] = deque()
        source = iter(images)
        try:
            while True:
                while len(pending) < 2 * self.workers:
                    image = next(source, None)
                    if image is None:
                        break
                    task, args = self.page_task(image)
                    pending.append(executor.submit(task, *args))
                if not pending:
                    return
                yield self._result(pending.popleft())
        finally:
            for future in pending:
                future.cancel()

    def page_task(self, image: Image.Image) -> PageTask:
        """How `map` hands `image` to a worker: as PNG bytes (small to pickle, lossless).

        A subclass may send pages another way and keep `map` as it is (`bench/ingest.py`
        measures a raw-pixel hand-off this way).
        """
        return _read_png, (_to_png(image),)

    def _result(self, future: Future[tuple[int, OcrPage]]) -> OcrPage:
        try:
            pid, page = future.result(timeout=self.page_timeout)
        except IngestError:
            raise
        except BrokenProcessPool as exc:
            self._discard()
            raise OcrFailed("an OCR worker process died", workers=self.workers) from exc
        except FutureTimeout as exc:
            self._discard()
            raise OcrFailed("OCR of a page timed out", timeout=self.page_timeout) from exc
        except Exception as exc:
            raise OcrFailed("OCR of a page failed", reason=repr(exc)) from exc
        self.pids_seen.add(pid)
        return page

    def _ensure_executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context(self.mp_context),
                    initializer=_init_worker,
                    initargs=(self.engine_factory,),
                )
            return self._executor

    def _discard(self) -> None:
        """Abandon a broken or stuck executor, killing its workers so nothing is left running."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = getattr(executor, "_processes", None) or {}
        for process in list(processes.values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)
