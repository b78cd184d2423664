"""The search use case: a question's text and filters → the tenant's best chunks.

`retrieve` embeds the question (batched with concurrent requests' questions, see
`pipelines.search.query_embedding`) and runs vector, full-text or hybrid search with the
mode-aware score threshold and the filters, both off the event loop; the search waits its
turn at the process's `SearchGate`. `POST /v1/search` returns its hits as they are; the
answer use case builds its context from them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ingest.embedding import Embedder
from pipelines.search.gate import SearchGate
from pipelines.search.query_embedding import query_embedder
from retrieval.rerank import Reranking, apply_reranker
from retrieval.search import DEFAULT_TOP_K, SEARCH_TIMEOUT_MS, search
from retrieval.threshold import DEFAULT_MIN_SCORE
from retrieval.types import Hit, SearchMode


@dataclass(frozen=True)
class Question:
    """What to answer and where to look.

    `min_score` (None: retrieval's calibrated default, 0.25 for all-MiniLM-L6-v2) is the
    threshold on each hit's calibrated `score`: its cosine in vector mode; in text and hybrid
    mode the stronger of its cosine and its text relevance (text coverage × 0.5), so at the
    default a chunk holding every word of the question is kept whatever its cosine, while text
    evidence adds no hit to an off-topic question (see `retrieval.threshold`).
    """

    text: str
    top_k: int = DEFAULT_TOP_K
    min_score: float | None = None
    mode: SearchMode = "hybrid"
    collection: str | None = None
    document_ids: Sequence[uuid.UUID | str] | None = None
    metadata: Mapping[str, Any] | None = None

    @property
    def threshold(self) -> float:
        """The `min_score` the search applies (the same number in every mode; what it is
        compared with depends on the mode, see above)."""
        return DEFAULT_MIN_SCORE if self.min_score is None else self.min_score


async def retrieve(session: Session, *, tenant: str, embedder: Embedder,
                   question: Question, gate: SearchGate | None = None,
                   timeout_ms: int = SEARCH_TIMEOUT_MS,
                   reranking: Reranking | None = None) -> list[Hit]:
    """Embed the question (batched with concurrent requests' questions) and search the
    tenant's corpus, both off the event loop; the search waits its turn at `gate` (a
    process-wide `SearchGate`; None: no limit) and is cancelled after `timeout_ms`.

    With `reranking`, `reranking.depth` hits are fetched and reordered by its reranker before
    the first `top_k` are kept (which hits pass `min_score` does not change).

    The session's transaction is rolled back afterwards (the search only reads), which returns
    its connection to the pool: a long answer stream must not hold one.
    """
    vector = await query_embedder(embedder).embed(question.text)
    depth = question.top_k if reranking is None else max(question.top_k, reranking.depth)

    def run() -> list[Hit]:
        try:
            return search(session, tenant=tenant, query_text=question.text, query_vector=vector,
                          mode=question.mode, top_k=depth, min_score=question.threshold,
                          collection=question.collection, document_ids=question.document_ids,
                          metadata=question.metadata, timeout_ms=timeout_ms)
        finally:
            session.rollback()

    hits = await (gate.run(run) if gate is not None else asyncio.to_thread(run))
    if reranking is None:
        return hits
    return (await apply_reranker(reranking.reranker, question.text, hits))[:question.top_k]

