"""Values that flow out of (and into) retrieval: the search request, its hits, cited sources.

They are plain frozen dataclasses with no I/O, so the answer pipeline, the HTTP layer and the
tests can build and compare them freely. `SearchQuery` validates itself on construction, so a
malformed request fails with a 422-style `RetrievalError` before any SQL runs.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from retrieval.errors import InvalidQuery
from retrieval.filters import SearchFilters

SearchMode = Literal["hybrid", "vector", "text"]
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)

MAX_TOP_K = 1000
"""Upper bound for `top_k` and `candidates` (also pgvector's maximum `hnsw.ef_search`)."""

DEFAULT_CANDIDATES = 100
"""How deep each ranked list (vector, full text) is read before fusion and thresholding."""


@dataclass(frozen=True)
class SearchQuery:
    """One validated search request.

    `query_vector` is the query embedded by the same model as the corpus (unit length); it is
    needed in every mode because the calibrated `score` that `min_score` applies to involves
    the cosine in every mode (see `retrieval.threshold`). `query_text` drives full-text search
    (required for `text`; may be empty for `vector`; when empty in `hybrid`, fusion
    degenerates to the vector list).
    `candidates` is the depth of each ranked list before fusion (at least `top_k`).
    """

    tenant: str
    query_text: str
    query_vector: Sequence[float]
    mode: SearchMode
    top_k: int
    min_score: float
    filters: SearchFilters
    candidates: int = DEFAULT_CANDIDATES

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_MODES:
            raise InvalidQuery(
                f"unknown search mode {self.mode!r}", field="mode", known=SEARCH_MODES
            )
        if not self.tenant:
            raise InvalidQuery("tenant must be non-empty", field="tenant")
        if self.mode == "text" and not self.query_text.strip():
            raise InvalidQuery("a text search needs query text", field="query_text")
        if not self.query_vector or not all(math.isfinite(x) for x in self.query_vector):
            raise InvalidQuery("query vector must be non-empty and finite", field="query_vector")
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise InvalidQuery(f"top_k must be in 1..{MAX_TOP_K}", field="top_k", value=self.top_k)
        if not 1 <= self.candidates <= MAX_TOP_K:
            raise InvalidQuery(
                f"candidates must be in 1..{MAX_TOP_K}", field="candidates", value=self.candidates
            )
        if not -1.0 <= self.min_score <= 1.0:
            raise InvalidQuery(
                "min_score is a calibrated relevance score in [-1, 1]",
                field="min_score",
                value=self.min_score,
            )

    @property
    def depth(self) -> int:
        """How many rows each ranked list reads: `candidates`, but never fewer than `top_k`."""
        return max(self.candidates, self.top_k)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk, with where it comes from and why it ranked where it did.

    `score` is the calibrated relevance `min_score` applies to (see `retrieval.threshold`):
    the cosine `vector_score` (vector mode), or the stronger of it and the text relevance,
    `text_coverage` × 0.5 (text and hybrid mode). `vector_score` is always the cosine between
    the query vector and the chunk embedding; `text_coverage` the share of the query's idf the
    chunk contains (None when full text did not find the chunk).
    Results are ordered by `fused_score`: the cosine (vector), the BM25-style `text_score`
    (text) or the reciprocal-rank-fusion value (hybrid), ties broken by cosine.
    `vector_rank`/`text_rank` are the 1-based positions in each ranked list (None when the
    chunk was not in that list); `rank` is the 1-based position in the result.
    """

    chunk_id: int
    document_id: uuid.UUID
    filename: str
    collection: str
    ordinal: int
    text: str
    section: str
    section_path: tuple[str, ...]
    page_start: int
    page_end: int
    char_start: int
    char_end: int
    token_count: int
    content_hash: str
    score: float
    vector_score: float
    text_score: float | None
    vector_rank: int | None
    text_rank: int | None
    fused_score: float
    rank: int
    document_metadata: Mapping[str, Any] = field(default_factory=dict)
    text_coverage: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, as returned by `POST /v1/search`."""
        return {
            "rank": self.rank,
            "chunk_id": self.chunk_id,
            "document_id": str(self.document_id),
            "filename": self.filename,
            "collection": self.collection,
            "ordinal": self.ordinal,
            "section": self.section,
            "page_start": self.page_start,
            "page_end": self.page_end,
            "score": round(self.score, 4),
            "vector_score": round(self.vector_score, 4),
            "text_coverage": None if self.text_coverage is None else round(self.text_coverage, 4),
            "vector_rank": self.vector_rank,
            "text_rank": self.text_rank,
            "text_score": None if self.text_score is None else round(self.text_score, 4),
            "fused_score": round(self.fused_score, 6),
            "text": self.text,
        }


@dataclass(frozen=True)
class Source:
    """One numbered source `[n]` of an answer's context: one chunk or a run of adjacent chunks
    of one document, with the page range and section a citation points to."""

    n: int
    document_id: uuid.UUID
    filename: str
    page_start: int
    page_end: int
    section: str
    score: float
    text: str
    chunk_ids: tuple[int, ...]
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, as sent in the `sources` event and `/v1/search` responses."""
        return {
            "n": self.n,
            "document_id": str(self.document_id),
            "filename": self.filename,
            "page_start": self.page_start,
            "page_end": self.page_end,
            "section": self.section,
            "score": round(self.score, 4),
            "text": self.text,
            "chunk_ids": list(self.chunk_ids),
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class Context:
    """The sources that fit the budget and the text handed to the model (`[n]`-numbered)."""

    sources: tuple[Source, ...]
    text: str
    token_count: int
    dropped: int = 0

    @property
    def empty(self) -> bool:
        """True when no source survived: the caller answers "insufficient evidence"."""
        return not self.sources
