"""A selective filter must not starve the top-k: pgvector's iterative HNSW scan keeps going.

1,000 chunks with random unit vectors; the tenant (or collection) searched holds 2% of them.
Without iterative scans an HNSW scan yields about `ef_search` (40) nearest rows overall, of
which ~2% survive the filter, so a top-10 comes back nearly empty. The control below proves
this fixture really goes through the index and would starve; the test proves the shipped
search fills the top-k with the exact nearest neighbours (computed in Python, not on the
database, so no plan or prepared statement is shared with the search).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Select, text
from sqlalchemy.orm import Session

from retrieval.filters import make_filters
from retrieval.search import build_statement, search
from retrieval.types import SearchQuery
from tests.support.retrieval_corpus import add_document

DIM = 384
TOP_K = 10


def unit_vectors(rng: random.Random, count: int) -> list[list[float]]:
    vectors = []
    for _ in range(count):
        v = [rng.gauss(0.0, 1.0) for _ in range(DIM)]
        norm = sum(x * x for x in v) ** 0.5
        vectors.append([x / norm for x in v])
    return vectors


def exact_top(query: Sequence[float], rows: list[tuple[str, list[float]]], k: int) -> list[str]:
    scored = sorted(rows, key=lambda r: -sum(a * b for a, b in zip(query, r[1], strict=True)))
    return [text_ for text_, _ in scored[:k]]


@pytest.fixture
def skewed(db_session: Session) -> dict[str, list[tuple[str, list[float]]]]:
    """980 chunks of tenant `big` (960 in collection `main`, 20 in `rare`), 20 of `small`."""
    rng = random.Random(20261123)
    layout = {("big", "main"): 960, ("big", "rare"): 20, ("small", "default"): 20}
    rows: dict[str, list[tuple[str, list[float]]]] = {}
    for (tenant, collection), count in layout.items():
        texts = [f"{tenant} {collection} chunk {i}" for i in range(count)]
        vectors = unit_vectors(rng, count)
        add_document(db_session, tenant=tenant, collection=collection, texts=texts, vectors=vectors)
        rows[f"{tenant}/{collection}"] = list(zip(texts, vectors, strict=True))
    db_session.execute(text("ANALYZE chunks"))
    db_session.execute(text("ANALYZE documents"))
    # At this size the planner would rather sort the few matching rows exactly; at production
    # size (or with filters no btree serves) it walks the HNSW index. Make it do so here.
    db_session.execute(text("SET LOCAL enable_sort = off"))
    return rows


@pytest.mark.parametrize(
    ("tenant", "collection", "key"), [("small", None, "small/default"), ("big", "rare", "big/rare")]
)
def test_a_2_percent_filter_still_fills_the_top_k_with_the_exact_neighbours(
    db_session: Session,
    skewed: dict[str, list[tuple[str, list[float]]]],
    tenant: str,
    collection: str | None,
    key: str,
) -> None:
    query = unit_vectors(random.Random(1), 1)[0]
    request = SearchQuery(
        tenant=tenant,
        query_text="",
        query_vector=query,
        mode="vector",
        top_k=TOP_K,
        min_score=-1.0,
        filters=make_filters(tenant=tenant, collection=collection),
        candidates=TOP_K,
    )
    assert "ix_chunks_embedding_hnsw" in explain(db_session, build_statement(request))

    # Control: the same statement with iterative scans off starves (so this fixture bites).
    db_session.execute(text("SELECT set_config('hnsw.iterative_scan', 'off', true)"))
    assert len(db_session.execute(build_statement(request)).all()) < TOP_K

    hits = search(
        db_session,
        tenant=tenant,
        collection=collection,
        query_text="",
        query_vector=query,
        mode="vector",
        top_k=TOP_K,
        min_score=-1.0,
        candidates=TOP_K,
    )
    assert len(hits) == TOP_K
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # HNSW is approximate (its graph is built with random levels): allow one miss in ten.
    assert len({h.text for h in hits} & set(exact_top(query, skewed[key], TOP_K))) >= TOP_K - 1


def explain(session: Session, statement: Select[Any]) -> str:
    """The planner's plan for `statement` (with its bound values), as text."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    params = compiled.construct_params()
    for name, bind in compiled.binds.items():
        processor = bind.type._cached_bind_processor(connection.dialect)
        if processor is not None and name in params:
            params[name] = processor(params[name])
    rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), params).all()
    return "\n".join(str(row[0]) for row in rows)
