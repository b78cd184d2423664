"""The full-text ranked list of a search: BM25-style scores over the tenant's chunks.

Kept apart from `retrieval.search` (which fuses it with the vector list) because it is the
costly one: its cost is one heap visit per candidate chunk, so which chunks become candidates
is the whole design (see `text_list`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CTE,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql.expression import ColumnClause

from ingest.corpus import ChunkRow, Document, TermStat
from retrieval.filters import TENANT, FilterShape, document_clauses, scoped

SCAN_ROWS_PER_CANDIDATE = 20
"""How many full-text matches a search may read per row of its ranked list (`depth`) before
it stops adding query terms, rarest first: bounds the cost of a question full of common words
(see `text_list`). 2,000 at the default depth of 100."""

_REGCONFIG: ColumnClause[Any] = literal_column("'english'::regconfig")
SCAN_ROWS = bindparam("scan_rows", type_=Integer)


def text_list(shape: FilterShape) -> CTE:
    """Chunks matching the lexemes of `:query_text`, ranked BM25-style, `:depth` deep, each
    with its `text_score` (the ranking) and its `text_coverage` (the evidence).

    Score = Σ over the query's lexemes t of idf(t) · ts_rank(tsv, t, 1): `ts_rank` of one
    lexeme saturates with its frequency and is divided by 1 + log(chunk length); idf is
    ln(1 + (N − df + 0.5) / (df + 0.5)) over the tenant's chunks, so rare terms (codes, names)
    outweigh common ones. SciFact nDCG@10: 0.682, where `ts_rank_cd` over the OR-ed query
    gets 0.44. The score ranks but means nothing across queries or corpora (it grows with the
    query's length and the corpus's size), so the threshold reads the coverage instead (see
    `text_coverage` and `retrieval.threshold`).

    Cost is one heap visit per candidate, so candidates come from the *rarest* lexemes only
    (df from `term_stats`, no counting): as many, rarest first, as are expected to yield at
    most `:scan_rows` (see `scan_rows`) matches inside the filters (the rarest always). The
    expectation scales df by the share of the tenant's chunks the filters let through, so a
    selective filter widens the scan rather than starving the list. A chunk matching only
    common words would score low anyway; every candidate is still scored over all the query's
    lexemes. At 100k chunks this keeps a 12-term question at ~1,000 heap visits instead of
    ~85,000; on SciFact a budget of 500 rows for a depth of 300 loses no nDCG@10 (see
    `bench/retrieval.py --text-scan-rows`).
    """
    words = _query_lexemes()
    chunk_count = (  # N: the tenant's searchable chunks, from the (much smaller) documents table
        select(func.coalesce(func.sum(Document.chunk_count), 0))
        .where(Document.tenant_id == TENANT, Document.status == "ready")
        .scalar_subquery()
    )
    in_scope = (  # how many of them the filters let through
        select(func.coalesce(func.sum(Document.chunk_count), 0))
        .where(*document_clauses(shape))
        .scalar_subquery()
    )
    df = TermStat.df
    matches_so_far = func.sum(df).over(order_by=(df, TermStat.lexeme))
    terms = _materialized(
        select(
            _tsquery_literal(TermStat.lexeme).label("literal"),
            cast(_tsquery_literal(TermStat.lexeme), TSQUERY).label("term"),  # parsed once
            df.label("df"),
            _idf(chunk_count, df).label("idf"),
            (matches_so_far == df).label("rarest"),
            (matches_so_far * in_scope / func.greatest(chunk_count, 1)).label("in_scope_so_far"),
        )
        .select_from(words)
        .join(
            TermStat,
            (TermStat.tenant_id == TENANT)
            & (TermStat.lexeme == words.c.lexeme)
            & (df > 0),
        ),
        "query_terms",
    )
    rarest = (
        select(cast(func.string_agg(terms.c.literal, " | "), TSQUERY))
        .where(terms.c.rarest | (terms.c.in_scope_so_far <= SCAN_ROWS))
        .scalar_subquery()
    )
    candidates = _materialized(
        scoped(select(ChunkRow.id, ChunkRow.tsv), shape).where(
            ChunkRow.tsv.op("@@")(rarest)
        ),
        "text_candidates",
    )
    term = terms.c.term
    score = (  # per candidate, over the few query terms: no GROUP BY over a join
        select(func.sum(terms.c.idf * func.ts_rank(candidates.c.tsv, term, 1)))
        .correlate(candidates)
        .scalar_subquery()
    )
    matched = (  # the idf of the query terms the candidate contains
        select(func.sum(case((candidates.c.tsv.op("@@")(term), terms.c.idf), else_=0.0)))
        .correlate(candidates)
        .scalar_subquery()
    )
    ranked = _materialized(
        select(
            candidates.c.id.label("chunk_id"),
            score.label("text_score"),
            (matched / _query_weight(chunk_count)).label("text_coverage"),
        )
        .order_by(score.desc(), candidates.c.id)
        .limit(bindparam("depth", type_=Integer)),
        "text_matches",
    )
    rank = func.row_number().over(order_by=(ranked.c.text_score.desc(), ranked.c.chunk_id))
    return select(
        ranked.c.chunk_id, ranked.c.text_score, ranked.c.text_coverage, rank.label("list_rank")
    ).cte("text_list")


def _query_lexemes() -> Any:
    """The distinct lexemes of `:query_text` (english stemming, stop words dropped)."""
    return func.unnest(
        func.tsvector_to_array(func.to_tsvector(_REGCONFIG, bindparam("query_text", type_=Text)))
    ).table_valued("lexeme").render_derived()


def _idf(chunk_count: Any, df: Any) -> Any:
    """BM25's idf, ln(1 + (N − df + 0.5) / (df + 0.5)), kept positive where df exceeds N
    (`term_stats` also counts the chunks of documents still being ingested)."""
    return func.ln(1.0 + (func.greatest(chunk_count - df, 0) + 0.5) / (df + 0.5))


def _query_weight(chunk_count: Any) -> Any:
    """Σ idf over *all* the query's lexemes, those the tenant's corpus never uses included
    (df 0: the highest idf). A question about something the corpus does not mention keeps
    that weight unmatched, so matching its common words elsewhere is weak evidence."""
    words = _query_lexemes()
    df = func.coalesce(TermStat.df, 0)
    return (
        select(func.greatest(func.sum(_idf(chunk_count, df)), 1e-9))
        .select_from(words)
        .outerjoin(TermStat, (TermStat.tenant_id == TENANT) & (TermStat.lexeme == words.c.lexeme))
        .scalar_subquery()
    )


def _tsquery_literal(lexeme: Any) -> Any:
    """`lexeme` quoted for tsquery input: one exact lexeme, never re-parsed or stemmed."""
    escaped = func.replace(func.replace(lexeme, "\\", "\\\\"), "'", "''")
    return func.concat("'", escaped, "'")


def _materialized(query: Select[*tuple[Any, ...]], name: str) -> CTE:
    """A CTE computed once: PostgreSQL would otherwise inline a single-use CTE, re-running
    it once per row that refers to it."""
    return query.cte(name).prefix_with("MATERIALIZED")


def scan_rows(depth: int, override: int | None = None) -> int:
    """The full-text scan budget of a list `depth` deep (`override` if given)."""
    return override if override is not None else SCAN_ROWS_PER_CANDIDATE * depth
