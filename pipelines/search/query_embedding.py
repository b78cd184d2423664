"""Query embedding for concurrent requests, in shared batches.

Why: the embedder runs one call at a time (a lock; one call already uses every core), so N
questions arriving together would be embedded one after another and the last would wait N
model calls. One call on a batch of short queries costs little more than a call on one, so
`QueryEmbedder` gathers the queries that arrive while a batch is being embedded and embeds
them together in the next call: under load the wait is about two model calls, not N.

A question asked again (the same text: a retry, a popular question, a paging client) is
answered from the last `RECENT` vectors without a model call, and a batch embeds each distinct
text once.

Each event loop gets its own queue (several servers in one process may share one embedder);
the model call runs in a worker thread. A caller that is cancelled simply stops waiting.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from cachetools import LRUCache

from ingest.embedding import Embedder

MAX_BATCH = 64
RECENT = 2048
"""Question vectors remembered per embedder (384 floats each: ~3 KB, ~6 MB in all)."""


@dataclass
class _Queue:
    pending: list[tuple[str, asyncio.Future[list[float]]]] = field(default_factory=list)
    running: bool = False
    task: asyncio.Task[None] | None = None  # a strong reference keeps the drain alive


class QueryEmbedder:
    """Embeds single queries for concurrent callers, batching those that overlap in time."""

    def __init__(self, embedder: Embedder, *, max_batch: int = MAX_BATCH,
                 recent: int = RECENT) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self._queues: WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = WeakKeyDictionary()
        self._recent: LRUCache[str, tuple[float, ...]] = LRUCache(maxsize=max(recent, 1))
        self._recent_lock = threading.Lock()  # event loops of several threads may share it

    async def embed(self, text: str) -> list[float]:
        """The unit vector of `text` (raises what the embedder raises)."""
        with self._recent_lock:
            known = self._recent.get(text)
        if known is not None:
            return list(known)
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[list[float]] = loop.create_future()
        queue.pending.append((text, future))
        if not queue.running:
            queue.running = True
            queue.task = loop.create_task(self._drain(queue))
        return await future

    async def _drain(self, queue: _Queue) -> None:
        """Embed what is pending, batch after batch, until nothing is left."""
        try:
            while queue.pending:
                batch = queue.pending[: self.max_batch]
                del queue.pending[: self.max_batch]
                live = [(t, f) for t, f in batch if not f.done()]  # drop cancelled callers
                if not live:
                    continue
                texts = list(dict.fromkeys(t for t, _ in live))
                try:
                    vectors = await asyncio.to_thread(self.embedder.embed, texts)
                except Exception as exc:
                    _settle(live, error=exc)
                else:
                    by_text = dict(zip(texts, vectors, strict=True))
                    with self._recent_lock:
                        for t, vector in by_text.items():
                            self._recent[t] = tuple(vector)
                    _settle(live, vectors=by_text)
        finally:
            queue.running = False


def _settle(batch: list[tuple[str, asyncio.Future[list[float]]]], *,
            vectors: Mapping[str, list[float]] | None = None,
            error: BaseException | None = None) -> None:
    for text, future in batch:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        elif vectors is not None:
            future.set_result(list(vectors[text]))


_SHARED: WeakKeyDictionary[Embedder, QueryEmbedder] = WeakKeyDictionary()


def query_embedder(embedder: Embedder) -> QueryEmbedder:
    """The one `QueryEmbedder` of `embedder` (made on first use), so that every request of a
    process batches with the others."""
    found = _SHARED.get(embedder)
    if found is None:
        found = _SHARED[embedder] = QueryEmbedder(embedder)
    return found
