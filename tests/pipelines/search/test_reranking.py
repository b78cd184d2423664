"""Reranking in the search use case: the reranker sees `depth` fused hits and the first
`top_k` of its order come back; with none, search is as it was."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ingest.embedding import SentenceTransformerEmbedder, default_model_path
from pipelines.search import Question, retrieve
from retrieval.rerank import Reranking
from tests.support.answer_corpus import ALPHA, WARRANTY_QUESTION, seed


class Shortest:
    """Prefers the shortest passage; records what it was asked to score."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        self.seen.append(len(texts))
        return [-float(len(t)) for t in texts]


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformerEmbedder(default_model_path())


@pytest.fixture(scope="module")
def tenant(engine: Engine, embedder: SentenceTransformerEmbedder) -> Iterator[str]:
    name = "t-" + uuid.uuid4().hex[:10]
    with Session(engine) as session:
        seed(session, tenant=name, embed=embedder.embed, passages=ALPHA)
        session.commit()
    yield name


async def test_the_reranker_orders_a_deeper_list_then_top_k_is_kept(
        engine: Engine, embedder: SentenceTransformerEmbedder, tenant: str) -> None:
    question = Question(WARRANTY_QUESTION, top_k=2, min_score=-1.0)
    with Session(engine) as session:
        plain = await retrieve(session, tenant=tenant, embedder=embedder, question=question)
        reranker = Shortest()
        reranked = await retrieve(session, tenant=tenant, embedder=embedder, question=question,
                                  reranking=Reranking(reranker, depth=6))
        deep = await retrieve(session, tenant=tenant, embedder=embedder,
                              question=Question(WARRANTY_QUESTION, top_k=6, min_score=-1.0))
    assert reranker.seen == [6] and len(plain) == len(reranked) == 2
    shortest = sorted(deep, key=lambda h: len(h.text))[:2]
    assert [h.chunk_id for h in reranked] == [h.chunk_id for h in shortest]
    assert [h.rank for h in reranked] == [1, 2]
    assert [h.chunk_id for h in plain] == [h.chunk_id for h in deep[:2]]  # off: unchanged
