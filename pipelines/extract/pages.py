"""Choosing the pages of a long document that fit a model's context and most likely hold the
fields, instead of cutting the document off at some length.

Pages are ranked once per extraction (a `PageRanker`: the document's chunks searched with the
schema's field names through `retrieval`, or a lexical fallback for text that was never
indexed); then, for each candidate model, `fit_pages` takes pages in rank order while they fit
the token budget left after the prompt, the schema and the output allowance, and puts the
chosen ones back in reading order. Only when not even the best page fits alone is that page cut
short (and the result says so).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from ingest.embedding import Embedder
from pipelines.extract.evidence import SourcePage
from retrieval.search import search

PAGE_MARKER = "--- Page {n} ---"
_WORD = re.compile(r"[a-z0-9]+")


class PageRanker(Protocol):
    """Orders pages by how likely they hold the fields. Sync: may touch the database and the
    embedder, so callers run it in a worker thread. Raises only `PipelineError`s or
    `RetrievalError`s."""

    def rank(self, pages: Sequence[SourcePage], query: str) -> list[int]:
        """Page numbers, most promising first (pages left out count as least promising)."""
        ...


@dataclass(frozen=True)
class Fitted:
    """The pages given to one model, in reading order; `truncated` if one was cut short."""

    pages: tuple[SourcePage, ...]
    truncated: bool = False

    @property
    def page_numbers(self) -> list[int]:
        return [p.page_no for p in self.pages]


def field_query(schema: dict[str, Any]) -> str:
    """The schema's property names as words ("invoice_number" → "invoice number"), deduped."""
    words: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, sub in (node.get("properties") or {}).items():
                words.update(dict.fromkeys(str(key).replace("_", " ").lower().split()))
                walk(sub)
            walk(node.get("items"))
            for option in node.get("anyOf") or []:
                walk(option)

    walk(schema)
    return " ".join(words)


def lexical_rank(pages: Sequence[SourcePage], query: str) -> list[int]:
    """Pages by how many query words they contain, per square root of their length."""
    terms = set(_WORD.findall(query.lower()))

    def score(page: SourcePage) -> float:
        words = _WORD.findall(page.text.lower())
        return sum(1 for w in words if w in terms) / math.sqrt(len(words) + 1)

    return [p.page_no for p in sorted(pages, key=lambda p: (-score(p), p.page_no))]


class LexicalRanker:
    """The fallback `PageRanker` for raw text and documents without chunks."""

    def rank(self, pages: Sequence[SourcePage], query: str) -> list[int]:
        return lexical_rank(pages, query)


class RetrievalRanker:
    """Ranks a stored document's pages by hybrid search over its chunks (vector + full text),
    summing the fused scores of the hits each page holds; pages no hit touches come after, in
    lexical order."""

    def __init__(self, session: Session, embedder: Embedder, *, tenant: str,
                 document_id: uuid.UUID, top_k: int = 50) -> None:
        self.session = session
        self.embedder = embedder
        self.tenant = tenant
        self.document_id = document_id
        self.top_k = top_k

    def rank(self, pages: Sequence[SourcePage], query: str) -> list[int]:
        vector = self.embedder.embed([query])[0]
        hits = search(self.session, tenant=self.tenant, query_text=query, query_vector=vector,
                      mode="hybrid", top_k=self.top_k, min_score=-1.0,
                      document_ids=[self.document_id])
        scores: dict[int, float] = {}
        for hit in hits:
            for page_no in range(hit.page_start, hit.page_end + 1):
                scores[page_no] = scores.get(page_no, 0.0) + hit.fused_score
        ranked = sorted(scores, key=lambda n: (-scores[n], n))
        return ranked + [n for n in lexical_rank(pages, query) if n not in scores]


def render_pages(pages: Sequence[SourcePage]) -> str:
    """The document text as the prompt shows it: each page under its marker."""
    return "\n\n".join(f"{PAGE_MARKER.format(n=p.page_no)}\n{p.text}" for p in pages)


def fit_pages(pages: Sequence[SourcePage], ranking: Sequence[int], budget_tokens: int,
              count: Callable[[str], int]) -> Fitted:
    """The best-ranked pages whose rendered text fits `budget_tokens`, in reading order."""
    by_no = {p.page_no: p for p in pages}
    order = [n for n in ranking if n in by_no] + [p.page_no for p in pages
                                                   if p.page_no not in set(ranking)]
    chosen: list[SourcePage] = []
    left = budget_tokens
    for n in order:
        cost = count(render_pages([by_no[n]])) + 2  # + the blank line between pages
        if cost <= left:
            chosen.append(by_no[n])
            left -= cost
    if chosen:
        return Fitted(tuple(sorted(chosen, key=lambda p: p.page_no)))
    if not order or budget_tokens <= 0:
        return Fitted((), truncated=bool(order))
    return Fitted((_cut(by_no[order[0]], budget_tokens, count),), truncated=True)


def _cut(page: SourcePage, budget_tokens: int, count: Callable[[str], int]) -> SourcePage:
    """The longest prefix of the page (by halving the overshoot) that fits the budget."""
    text = page.text
    while text and count(render_pages([SourcePage(page.page_no, text)])) > budget_tokens:
        total = count(render_pages([SourcePage(page.page_no, text)]))
        text = text[: max(0, int(len(text) * budget_tokens / total * 0.95) - 1)]
    return SourcePage(page.page_no, text)
