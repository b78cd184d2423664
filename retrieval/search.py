"""Search the corpus: vector (cosine on the HNSW index), full text, and hybrid fusion in SQL.

Every mode is one SQL statement built from two ranked lists, each read `depth` rows deep inside
the caller's filters (tenant and `ready` always):

- **vector**: `embedding <=> :q` on the HNSW index with pgvector's iterative scan switched on
  (`hnsw.iterative_scan = relaxed_order`, `hnsw.ef_search` ≥ depth) so a selective filter
  keeps scanning instead of starving the top-k; the relaxed order is restored by re-sorting the
  MATERIALIZED result (pgvector's documented pattern).
- **text**: chunks matching *any* of the query's rarer lexemes (`to_tsvector('english')`), so a
  chunk matching most — not all — of a long question is found, ranked BM25-style: per-lexeme
  `ts_rank` weighted by the lexeme's idf in the tenant's corpus, with document frequencies
  read from `term_stats` (see `retrieval.fulltext`).
- **hybrid**: reciprocal rank fusion, `Σ 1/(60 + rank)` over both lists (a FULL JOIN of the
  two CTEs), in the same statement.

Every hit carries its cosine to the query vector (`vector_score`; text-only hits get theirs
computed too) and, when full text found it, its `text_coverage`. The calibrated `score` that
`min_score` applies to is the cosine in vector mode and, in text and hybrid mode, the stronger
of the cosine and the text relevance, so a chunk holding every word of the query is kept
however far its embedding is (see `retrieval.threshold`). Weak hits are dropped before the
`top_k` cut, so passing hits further down still fill the result; nothing passing gives `[]`.

The `SET LOCAL`-style settings last until the caller's transaction ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from pgvector.sqlalchemy import Vector
from psycopg.errors import QueryCanceled
from sqlalchemy import (
    CTE,
    Float,
    Integer,
    RowMapping,
    Select,
    bindparam,
    cast,
    func,
    null,
    select,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ingest.corpus import EMBEDDING_DIMENSION, ChunkRow, Document
from retrieval.errors import InvalidQuery, SearchTimedOut
from retrieval.filters import (
    FilterShape,
    configure_index_scan,
    filter_values,
    make_filters,
    scoped,
    statement_timeout,
)
from retrieval.fulltext import scan_rows, text_list
from retrieval.threshold import DEFAULT_MIN_SCORE, TEXT_RELEVANCE_PER_COVERAGE
from retrieval.types import DEFAULT_CANDIDATES, Hit, SearchMode, SearchQuery

DEFAULT_TOP_K = 8
"""How many hits a search returns when the caller does not say."""

SEARCH_TIMEOUT_MS = 10_000
"""How long one search statement may run (typically 10–100 ms at 100k chunks): a runaway
query is cancelled by the server instead of holding a connection and a core."""

RRF_K = 60
"""The reciprocal-rank-fusion constant (Cormack et al. 2009): damps the weight of top ranks."""

def search(
    session: Session,
    *,
    tenant: str,
    query_text: str,
    query_vector: Sequence[float],
    mode: SearchMode = "hybrid",
    top_k: int = DEFAULT_TOP_K,
    min_score: float = DEFAULT_MIN_SCORE,
    collection: str | None = None,
    document_ids: Iterable[uuid.UUID | str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    candidates: int = DEFAULT_CANDIDATES,
    text_scan_rows: int | None = None,
    timeout_ms: int = SEARCH_TIMEOUT_MS,
) -> list[Hit]:
    """The tenant's best `top_k` chunks for a query, best first, all with `score >= min_score`
    (`score`: the mode's calibrated relevance, see `relevance`).

    Validates the request (raises `InvalidQuery` / `InvalidFilter`, both 422), then runs one
    read-only statement in the caller's session, cancelled by PostgreSQL after `timeout_ms`
    (raises `SearchTimedOut`, 503; the caller's transaction is then aborted). Never writes.
    """
    query = SearchQuery(
        tenant=tenant,
        query_text=query_text,
        query_vector=query_vector,
        mode=mode,
        top_k=top_k,
        min_score=min_score,
        filters=make_filters(
            tenant=tenant, collection=collection, document_ids=document_ids, metadata=metadata
        ),
        candidates=candidates,
    )
    return run_search(session, query, text_scan_rows=text_scan_rows, timeout_ms=timeout_ms)


def run_search(
    session: Session,
    query: SearchQuery,
    *,
    text_scan_rows: int | None = None,
    timeout_ms: int = SEARCH_TIMEOUT_MS,
) -> list[Hit]:
    """Execute a validated `SearchQuery` (see `search`)."""
    if len(query.query_vector) != EMBEDDING_DIMENSION:
        raise InvalidQuery(
            f"query vector has {len(query.query_vector)} dimensions, not {EMBEDDING_DIMENSION}",
            field="query_vector",
        )
    configure_index_scan(session, depth=query.depth)
    statement, values = statement_for(query, text_scan_rows=text_scan_rows)
    with statement_timeout(session, timeout_ms):
        try:
            rows = session.execute(statement, values).mappings().all()
        except OperationalError as exc:
            if isinstance(exc.orig, QueryCanceled):
                raise SearchTimedOut(
                    f"search was cancelled after {timeout_ms} ms", timeout_ms=timeout_ms
                ) from None
            raise
    return [_hit(row, rank) for rank, row in enumerate(rows, start=1)]


def build_statement(
    query: SearchQuery, *, text_scan_rows: int | None = None
) -> Select[*tuple[Any, ...]]:
    """The single SELECT for `query` with its values bound (for EXPLAIN and tests)."""
    template, values = statement_for(query, text_scan_rows=text_scan_rows)
    return template.params(values)


def statement_for(
    query: SearchQuery, *, text_scan_rows: int | None = None
) -> tuple[Select[*tuple[Any, ...]], dict[str, Any]]:
    """The statement for `query`'s shape (built once per shape: building one costs several
    milliseconds of Python, more than the search itself) and the values for its parameters."""
    with_text = query.mode in ("text", "hybrid") and bool(query.query_text.strip())
    template = _template(query.mode, with_text, FilterShape.of(query.filters))
    values = {
        **filter_values(query.filters),
        "query_vector": list(query.query_vector),
        "query_text": query.query_text,
        "depth": query.depth,
        "scan_rows": scan_rows(query.depth, text_scan_rows),
        "min_score": query.min_score,
        "top_k": query.top_k,
    }
    return template, values


@lru_cache(maxsize=64)
def _template(mode: SearchMode, with_text: bool, shape: FilterShape) -> Select[*tuple[Any, ...]]:
    """Ranked list CTE(s), fusion, threshold and `top_k`, every value a named parameter."""
    vector = bindparam("query_vector", type_=Vector(EMBEDDING_DIMENSION))
    vec = _vector_list(shape, vector) if mode in ("vector", "hybrid") else None
    txt = text_list(shape) if with_text else None
    if vec is not None and txt is not None:
        fused_from: Any = vec.join(txt, vec.c.chunk_id == txt.c.chunk_id, full=True)
        chunk_id = func.coalesce(vec.c.chunk_id, txt.c.chunk_id)
    else:
        fused_from = vec if vec is not None else txt
        chunk_id = fused_from.c.chunk_id
    vector_rank = vec.c.list_rank if vec is not None else null()
    text_rank = txt.c.list_rank if txt is not None else null()
    text_score = txt.c.text_score if txt is not None else null()
    text_coverage = txt.c.text_coverage if txt is not None else null()
    if mode == "hybrid":
        fused_score: Any = _rrf(vec, txt)
    elif mode == "text":
        fused_score = text_score
    else:
        fused_score = 1 - vec.c.distance  # type: ignore[union-attr]
    fused = (
        select(
            chunk_id.label("chunk_id"),
            cast(vector_rank, Integer).label("vector_rank"),
            cast(text_rank, Integer).label("text_rank"),
            cast(text_score, Float).label("text_score"),
            cast(text_coverage, Float).label("text_coverage"),
            cast(fused_score, Float).label("fused_score"),
        )
        .select_from(fused_from)
        .cte("fused")
    )

    cosine = (1 - ChunkRow.embedding.cosine_distance(vector)).label("vector_score")
    score = relevance(mode, cosine, fused.c.text_coverage).label("score")
    return (
        select(
            ChunkRow.id.label("chunk_id"),
            ChunkRow.document_id,
            Document.filename,
            ChunkRow.collection,
            ChunkRow.ordinal,
            ChunkRow.text,
            ChunkRow.section,
            ChunkRow.section_path,
            ChunkRow.page_start,
            ChunkRow.page_end,
            ChunkRow.char_start,
            ChunkRow.char_end,
            ChunkRow.token_count,
            ChunkRow.content_hash,
            Document.metadata_.label("document_metadata"),
            score,
            cosine,
            fused.c.vector_rank,
            fused.c.text_rank,
            fused.c.text_score,
            fused.c.text_coverage,
            fused.c.fused_score,
        )
        .select_from(fused)
        .join(ChunkRow, ChunkRow.id == fused.c.chunk_id)
        .join(Document, Document.id == ChunkRow.document_id)
        .where(score >= bindparam("min_score", type_=Float))
        .order_by(fused.c.fused_score.desc(), cosine.desc(), ChunkRow.id)
        .limit(bindparam("top_k", type_=Integer))
    )


def relevance(mode: SearchMode, cosine: Any, text_coverage: Any) -> Any:
    """The calibrated `score` `min_score` applies to (see `retrieval.threshold`): the cosine
    in vector mode; in text and hybrid mode the stronger of the cosine and the text relevance,
    so a hit either kind of evidence vouches for is kept (GREATEST skips the NULL coverage of
    a chunk the text list missed)."""
    if mode == "vector":
        return cosine
    return func.greatest(cosine, text_coverage * TEXT_RELEVANCE_PER_COVERAGE)


def _vector_list(shape: FilterShape, vector: Any) -> CTE:
    """Nearest chunks by cosine distance, `:depth` deep, via the HNSW index (iterative scan)."""
    distance = ChunkRow.embedding.cosine_distance(vector)
    nearest = (
        scoped(select(ChunkRow.id.label("chunk_id"), distance.label("distance")), shape)
        .order_by(distance)
        .limit(bindparam("depth", type_=Integer))
        .cte("vector_nearest")
        .prefix_with("MATERIALIZED")  # computed once, re-sorted below (relaxed scan order)
    )
    rank = func.row_number().over(order_by=(nearest.c.distance, nearest.c.chunk_id))
    return select(nearest.c.chunk_id, nearest.c.distance, rank.label("list_rank")).cte(
        "vector_list"
    )


def _rrf(vec: CTE | None, txt: CTE | None) -> Any:
    """Σ 1/(RRF_K + rank) over the lists a chunk appears in (0 for a list it is absent from)."""
    parts = [
        func.coalesce(1.0 / (RRF_K + cast(c.c.list_rank, Float)), 0.0)
        for c in (vec, txt)
        if c is not None
    ]
    total: Any = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _hit(row: RowMapping, rank: int) -> Hit:
    """A result row (labelled like `Hit`'s fields) as a `Hit`."""
    values = dict(row)
    values["section_path"] = tuple(values["section_path"] or ())
    values["document_metadata"] = values["document_metadata"] or {}
    return Hit(**values, rank=rank)
