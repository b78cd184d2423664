"""Search the corpus: vector (cosine on the HNSW index), full text, and hybrid fusion in SQL.

Every mode is one SQL statement built from two ranked lists, each read `depth` rows deep inside
the caller's filters (tenant and `ready` always):

- **vector**: `embedding <=> :q` on the HNSW index with pgvector's iterative scan switched on
  (`hnsw.iterative_scan = relaxed_order`, `hnsw.ef_search` ≥ depth) so a selective filter
  keeps scanning instead of starving the top-k; the relaxed order is restored by re-sorting the
  MATERIALIZED result (pgvector's documented pattern).
- **text**: chunks matching *any* of the query's lexemes (`plainto_tsquery('english')`), so a
  chunk matching most — not all — of a long question is found, ranked BM25-style: per-lexeme
  `ts_rank` weighted by the lexeme's idf in the tenant's corpus (see `_text_list`).
- **hybrid**: reciprocal rank fusion, `Σ 1/(60 + rank)` over both lists (a FULL JOIN of the
  two CTEs), in the same statement.

The calibrated `score` of every hit is its cosine similarity to the query vector, in every
mode (text-only hits get theirs computed too); `min_score` applies to it (see
`retrieval.threshold`). Weak hits are dropped before the `top_k` cut, so passing hits further
down still fill the result; nothing passing gives `[]`.

The `SET LOCAL`-style settings last until the caller's transaction ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    CTE,
    Float,
    Integer,
    RowMapping,
    Select,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnClause

from ingest.tables import EMBEDDING_DIMENSION, ChunkRow, Document
from retrieval.errors import InvalidQuery
from retrieval.filters import configure_index_scan, filter_clauses, make_filters, scoped
from retrieval.threshold import DEFAULT_MIN_SCORE
from retrieval.types import DEFAULT_CANDIDATES, Hit, SearchMode, SearchQuery

RRF_K = 60
"""The reciprocal-rank-fusion constant (Cormack et al. 2009): damps the weight of top ranks."""

_REGCONFIG: ColumnClause[Any] = literal_column("'english'::regconfig")


def search(
    session: Session,
    *,
    tenant: str,
    query_text: str,
    query_vector: Sequence[float],
    mode: SearchMode = "hybrid",
    top_k: int = 8,
    min_score: float = DEFAULT_MIN_SCORE,
    collection: str | None = None,
    document_ids: Iterable[uuid.UUID | str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    candidates: int = DEFAULT_CANDIDATES,
) -> list[Hit]:
    """The tenant's best `top_k` chunks for a query, best first, all with `score >= min_score`.

    Validates the request (raises `InvalidQuery` / `InvalidFilter`, both 422), then runs one
    read-only statement in the caller's session. Never writes.
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
    return run_search(session, query)


def run_search(session: Session, query: SearchQuery) -> list[Hit]:
    """Execute a validated `SearchQuery` (see `search`)."""
    if len(query.query_vector) != EMBEDDING_DIMENSION:
        raise InvalidQuery(
            f"query vector has {len(query.query_vector)} dimensions, not {EMBEDDING_DIMENSION}",
            field="query_vector",
        )
    configure_index_scan(session, depth=query.depth)
    rows = session.execute(build_statement(query)).mappings().all()
    return [_hit(row, rank) for rank, row in enumerate(rows, start=1)]


def build_statement(query: SearchQuery) -> Select[*tuple[Any, ...]]:
    """The single SELECT for `query`: ranked list CTE(s), fusion, threshold, `top_k`."""
    vector = bindparam("query_vector", list(query.query_vector), type_=Vector(EMBEDDING_DIMENSION))
    lists: list[CTE] = []
    if query.mode in ("vector", "hybrid"):
        lists.append(_vector_list(query, vector))
    if query.mode in ("text", "hybrid") and query.query_text.strip():
        lists.append(_text_list(query))
    vec = next((c for c in lists if c.name == "vector_list"), None)
    txt = next((c for c in lists if c.name == "text_list"), None)

    if vec is not None and txt is not None:
        fused_from: Any = vec.join(txt, vec.c.chunk_id == txt.c.chunk_id, full=True)
        chunk_id = func.coalesce(vec.c.chunk_id, txt.c.chunk_id)
    else:
        fused_from = vec if vec is not None else txt
        chunk_id = fused_from.c.chunk_id
    vector_rank = vec.c.list_rank if vec is not None else null()
    text_rank = txt.c.list_rank if txt is not None else null()
    text_score = txt.c.text_score if txt is not None else null()
    if query.mode == "hybrid":
        fused_score: Any = _rrf(vec, txt)
    elif query.mode == "text":
        fused_score = text_score
    else:
        fused_score = 1 - vec.c.distance  # type: ignore[union-attr]
    fused = (
        select(
            chunk_id.label("chunk_id"),
            cast(vector_rank, Integer).label("vector_rank"),
            cast(text_rank, Integer).label("text_rank"),
            cast(text_score, Float).label("text_score"),
            cast(fused_score, Float).label("fused_score"),
        )
        .select_from(fused_from)
        .cte("fused")
    )

    cosine = (1 - ChunkRow.embedding.cosine_distance(vector)).label("score")
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
            cosine,
            fused.c.vector_rank,
            fused.c.text_rank,
            fused.c.text_score,
            fused.c.fused_score,
        )
        .select_from(fused)
        .join(ChunkRow, ChunkRow.id == fused.c.chunk_id)
        .join(Document, Document.id == ChunkRow.document_id)
        .where(cosine >= query.min_score)
        .order_by(fused.c.fused_score.desc(), cosine.desc(), ChunkRow.id)
        .limit(query.top_k)
    )


def _vector_list(query: SearchQuery, vector: Any) -> CTE:
    """Nearest chunks by cosine distance, `depth` deep, via the HNSW index (iterative scan)."""
    distance = ChunkRow.embedding.cosine_distance(vector)
    nearest = (
        scoped(select(ChunkRow.id.label("chunk_id"), distance.label("distance")), query.filters)
        .order_by(distance)
        .limit(query.depth)
        .cte("vector_nearest")
        .prefix_with("MATERIALIZED")
    )
    rank = func.row_number().over(order_by=(nearest.c.distance, nearest.c.chunk_id))
    return select(nearest.c.chunk_id, nearest.c.distance, rank.label("list_rank")).cte(
        "vector_list"
    )


def _text_list(query: SearchQuery) -> CTE:
    """Chunks matching any query lexeme, ranked BM25-style, `depth` deep.

    Score = Σ over the query's lexemes t of idf(t) · ts_rank(tsv, t, 1): `ts_rank` of one
    lexeme saturates with its frequency and is divided by 1 + log(chunk length); idf is
    ln(1 + (N − df + 0.5) / (df + 0.5)) over the tenant's chunks, so rare terms (codes, names)
    outweigh common ones. Two stages keep it cheap: every match is scored by Σ idf alone (ids
    from the GIN index, no tsvector read), and only the best `2 · depth` are re-scored with
    `ts_rank`. SciFact nDCG@10: 0.682, where `ts_rank_cd` over the OR-ed query gets 0.44.
    """
    lexemes = func.string_to_array(
        func.nullif(cast(func.plainto_tsquery(_REGCONFIG, query.query_text), Text), ""), " & "
    )
    term = func.unnest(lexemes).table_valued("lexeme").render_derived()
    terms = select(cast(term.c.lexeme, TSQUERY).label("tq")).distinct().cte("query_terms")
    matches = _materialized(
        select(
            terms.c.tq, ChunkRow.id, ChunkRow.tenant_id, ChunkRow.document_id, ChunkRow.collection
        )
        .join(ChunkRow, ChunkRow.tsv.op("@@")(terms.c.tq))
        .where(ChunkRow.tenant_id == query.filters.tenant),
        "term_matches",
    )
    chunk_count = (  # N: the tenant's searchable chunks, from the (much smaller) documents table
        select(func.coalesce(func.sum(Document.chunk_count), 0))
        .where(Document.tenant_id == query.filters.tenant, Document.status == "ready")
        .scalar_subquery()
    )
    df = func.count()
    idf = func.ln(1.0 + (chunk_count - df + 0.5) / (df + 0.5))
    weights = _materialized(
        select(matches.c.tq, idf.label("idf")).group_by(matches.c.tq), "term_weights"
    )
    rough = func.sum(weights.c.idf)
    pool = _materialized(
        select(matches.c.id)
        .join(weights, weights.c.tq == matches.c.tq)
        .join(Document, Document.id == matches.c.document_id)
        .where(
            *filter_clauses(
                query.filters,
                tenant_id=matches.c.tenant_id,
                collection=matches.c.collection,
                document_id=matches.c.document_id,
            )
        )
        .group_by(matches.c.id)
        .order_by(rough.desc(), matches.c.id)
        .limit(2 * query.depth),
        "text_pool",
    )
    score = (  # per pooled chunk, over the few query terms: no GROUP BY over a join
        select(func.sum(weights.c.idf * func.ts_rank(ChunkRow.tsv, weights.c.tq, 1)))
        .correlate(ChunkRow)
        .scalar_subquery()
    )
    ranked = _materialized(
        select(ChunkRow.id.label("chunk_id"), score.label("text_score"))
        .select_from(pool)
        .join(ChunkRow, ChunkRow.id == pool.c.id)
        .order_by(score.desc(), ChunkRow.id)
        .limit(query.depth),
        "text_matches",
    )
    rank = func.row_number().over(order_by=(ranked.c.text_score.desc(), ranked.c.chunk_id))
    return select(ranked.c.chunk_id, ranked.c.text_score, rank.label("list_rank")).cte("text_list")


def _materialized(query: Select[*tuple[Any, ...]], name: str) -> CTE:
    """A CTE computed once: PostgreSQL would otherwise inline a single-use CTE, re-running
    per-term counts once per matching row."""
    return query.cte(name).prefix_with("MATERIALIZED")


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
    return Hit(**values, vector_score=values["score"], rank=rank)
