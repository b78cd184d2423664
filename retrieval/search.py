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
  read from `term_stats` (see `_text_list`).
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

from ingest.tables import EMBEDDING_DIMENSION, ChunkRow, Document, TermStat
from retrieval.errors import InvalidQuery
from retrieval.filters import configure_index_scan, document_clauses, make_filters, scoped
from retrieval.threshold import DEFAULT_MIN_SCORE
from retrieval.types import DEFAULT_CANDIDATES, Hit, SearchMode, SearchQuery

TEXT_SCAN_ROWS = 5000
"""How many full-text matches a search may read before it stops adding query terms (rarest
first): bounds the cost of a question full of common words (see `_text_list`)."""

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
    text_scan_rows: int = TEXT_SCAN_ROWS,
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
    return run_search(session, query, text_scan_rows=text_scan_rows)


def run_search(
    session: Session, query: SearchQuery, *, text_scan_rows: int = TEXT_SCAN_ROWS
) -> list[Hit]:
    """Execute a validated `SearchQuery` (see `search`)."""
    if len(query.query_vector) != EMBEDDING_DIMENSION:
        raise InvalidQuery(
            f"query vector has {len(query.query_vector)} dimensions, not {EMBEDDING_DIMENSION}",
            field="query_vector",
        )
    configure_index_scan(session, depth=query.depth)
    rows = session.execute(build_statement(query, text_scan_rows=text_scan_rows)).mappings().all()
    return [_hit(row, rank) for rank, row in enumerate(rows, start=1)]


def build_statement(
    query: SearchQuery, *, text_scan_rows: int = TEXT_SCAN_ROWS
) -> Select[*tuple[Any, ...]]:
    """The single SELECT for `query`: ranked list CTE(s), fusion, threshold, `top_k`."""
    vector = bindparam("query_vector", list(query.query_vector), type_=Vector(EMBEDDING_DIMENSION))
    lists: list[CTE] = []
    if query.mode in ("vector", "hybrid"):
        lists.append(_vector_list(query, vector))
    if query.mode in ("text", "hybrid") and query.query_text.strip():
        lists.append(_text_list(query, text_scan_rows))
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


def _text_list(query: SearchQuery, scan_rows: int) -> CTE:
    """Chunks matching the query's lexemes, ranked BM25-style, `depth` deep.

    Score = Σ over the query's lexemes t of idf(t) · ts_rank(tsv, t, 1): `ts_rank` of one
    lexeme saturates with its frequency and is divided by 1 + log(chunk length); idf is
    ln(1 + (N − df + 0.5) / (df + 0.5)) over the tenant's chunks, so rare terms (codes, names)
    outweigh common ones. SciFact nDCG@10: 0.682, where `ts_rank_cd` over the OR-ed query
    gets 0.44.

    Cost is one heap visit per candidate, so candidates come from the *rarest* lexemes only
    (df from `term_stats`, no counting): as many, rarest first, as are expected to yield at
    most `scan_rows` matches inside the filters (the rarest always). The expectation scales
    df by the share of the tenant's chunks the filters let through, so a selective filter
    widens the scan rather than starving the list. A chunk matching only common words would
    score low anyway; every candidate is still scored over all the query's lexemes. At 100k
    chunks this keeps a 12-term question at ~1,000 heap visits instead of ~85,000; on
    SciFact a budget of 500 loses no nDCG@10 (see bench/retrieval.py --text-scan-rows).
    """
    words = func.unnest(
        func.tsvector_to_array(func.to_tsvector(_REGCONFIG, query.query_text))
    ).table_valued("lexeme").render_derived()
    chunk_count = (  # N: the tenant's searchable chunks, from the (much smaller) documents table
        select(func.coalesce(func.sum(Document.chunk_count), 0))
        .where(Document.tenant_id == query.filters.tenant, Document.status == "ready")
        .scalar_subquery()
    )
    in_scope = (  # how many of them the filters let through
        select(func.coalesce(func.sum(Document.chunk_count), 0))
        .where(*document_clauses(query.filters))
        .scalar_subquery()
    )
    df = TermStat.df
    matches_so_far = func.sum(df).over(order_by=(df, TermStat.lexeme))
    terms = _materialized(
        select(
            _tsquery_literal(TermStat.lexeme).label("literal"),
            df.label("df"),
            func.ln(1.0 + (chunk_count - df + 0.5) / (df + 0.5)).label("idf"),
            (matches_so_far == df).label("rarest"),
            (matches_so_far * in_scope / func.greatest(chunk_count, 1)).label("in_scope_so_far"),
        )
        .select_from(words)
        .join(
            TermStat,
            (TermStat.tenant_id == query.filters.tenant)
            & (TermStat.lexeme == words.c.lexeme)
            & (df > 0),
        ),
        "query_terms",
    )
    rarest = (
        select(cast(func.string_agg(terms.c.literal, " | "), TSQUERY))
        .where(terms.c.rarest | (terms.c.in_scope_so_far <= scan_rows))
        .scalar_subquery()
    )
    candidates = _materialized(
        scoped(select(ChunkRow.id, ChunkRow.tsv), query.filters).where(
            ChunkRow.tsv.op("@@")(rarest)
        ),
        "text_candidates",
    )
    score = (  # per candidate, over the few query terms: no GROUP BY over a join
        select(
            func.sum(
                terms.c.idf * func.ts_rank(candidates.c.tsv, cast(terms.c.literal, TSQUERY), 1)
            )
        )
        .correlate(candidates)
        .scalar_subquery()
    )
    ranked = _materialized(
        select(candidates.c.id.label("chunk_id"), score.label("text_score"))
        .order_by(score.desc(), candidates.c.id)
        .limit(query.depth),
        "text_matches",
    )
    rank = func.row_number().over(order_by=(ranked.c.text_score.desc(), ranked.c.chunk_id))
    return select(ranked.c.chunk_id, ranked.c.text_score, rank.label("list_rank")).cte("text_list")


def _tsquery_literal(lexeme: Any) -> Any:
    """`lexeme` quoted for tsquery input: one exact lexeme, never re-parsed or stemmed."""
    escaped = func.replace(func.replace(lexeme, "\\", "\\\\"), "'", "''")
    return func.concat("'", escaped, "'")


def _materialized(query: Select[*tuple[Any, ...]], name: str) -> CTE:
    """A CTE computed once: PostgreSQL would otherwise inline a single-use CTE, re-running
    it once per row that refers to it."""
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
