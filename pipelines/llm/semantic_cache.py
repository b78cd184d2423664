"""Semantic answer cache: a paraphrase of a cached question on the same context is a hit.

Why it can be safe in a RAG service: the known failure of semantic caches is the false hit, a
similar-looking question that needs another answer. Here a hit needs all of: the same tenant,
the same prompt version and model tier, the same retrieved context (`context_hash`: the source
chunk ids and the hashes of their text, so a changed corpus never replays), the same numbers
in the question (years, quantities: "revenue in 2023" is not "revenue in 2024", however close
their embeddings), and a question-embedding cosine of at least `threshold`, calibrated on
paraphrase and different-question pairs (tests/pipelines/llm/fixtures/semantic_pairs.json).

The embedding comes through the `QuestionEmbedder` seam (the composition root passes the
corpus embedder's batched query embedding; pipelines/llm imports nothing of ingest). Rows live
in PostgreSQL (`llm_semantic_cache`), shared by all processes, with a TTL; `AnswerCache`'s purge
deletes the expired ones too.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from pipelines.llm.storage import QUESTION_DIMENSION, LLMSemanticCache

QuestionEmbedder = Callable[[str], Awaitable[Sequence[float]]]
"""The seam: the unit embedding of a question (a coroutine; may batch with other callers)."""

DEFAULT_THRESHOLD = 0.90
"""Cosine at or above which a same-context question counts as the same question; calibrated
with all-MiniLM-L6-v2 (see tests/pipelines/llm/test_semantic_calibration.py)."""

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z][a-z0-9]*")
_SUFFIXES = ("ing", "ed", "es", "s", "ly")
IGNORED = frozenset({
    "a", "an", "the", "of", "for", "in", "on", "at", "to", "by", "and", "or", "is", "are", "was",
    "were", "be", "been", "being", "does", "do", "did", "has", "have", "had", "what", "which",
    "who", "whom", "when", "how", "much", "many", "there", "this", "that", "these", "those", "as",
    "from", "with", "its", "it", "into", "than", "then", "any", "your", "you", "we", "us", "our",
    "me", "my", "please", "answer", "question", "state", "use", "using", "based", "base",
    "primarily", "mainly", "only", "information", "provided", "provide", "according", "per",
    "clearly", "outlined", "details", "detail", "response", "judgment", "judgments", "referencing",
    "considering", "data", "shown", "help", "need", "here", "tell", "know", "would", "could",
    "can", "should", "will", "also", "following", "value", "amount",
})
"""Words that do not change what a question asks (function words, instructions such as
"please answer based on the balance sheet"); every other word is a term the guard compares.
Negations (not, no, without), directions (more, less, against) and all content words count."""
_T = LLMSemanticCache
_DISTANCE = _T.embedding.cosine_distance(bindparam("vector")).label("distance")
_LOOKUP = (
    select(_T.key, _T.tier, _T.model, _T.question, _T.payload, _DISTANCE)
    .where(_T.tenant_id == bindparam("tenant"), _T.context_hash == bindparam("context"),
           _T.prompt_version == bindparam("prompt"),
           _T.tier.in_(bindparam("tiers", expanding=True)),
           _T.guard == bindparam("guard"), _T.expires_at > func.now())
    .order_by(_DISTANCE)
    .limit(1)
)


def context_hash(chunks: Iterable[tuple[str, str]]) -> str:
    """sha256 hex of the sorted (chunk id, content hash) pairs: the context an answer used."""
    pairs = sorted([str(cid), str(h)] for cid, h in chunks)
    return hashlib.sha256(json.dumps(pairs, separators=(",", ":")).encode()).hexdigest()


def question_numbers(question: str) -> str:
    """The numbers a question names, sorted and joined ("2023 2024"): they must match."""
    return " ".join(sorted({n.replace(",", "") for n in _NUMBER.findall(question)}))


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word.removesuffix("e") if len(word) > 3 else word


def question_terms(question: str) -> str:
    """The question's terms: its words, lower-cased and lightly stemmed, minus `IGNORED` ones
    and single letters (a possessive's s), sorted and joined."""
    words = _WORD.findall(_NUMBER.sub(" ", question.casefold()))
    return " ".join(sorted({_stem(w) for w in words if len(w) > 1 and w not in IGNORED}))


def question_guard(question: str) -> str:
    """What a cached question and a new one must share exactly besides a close embedding: the
    same numbers and the same terms. Why: all-MiniLM-L6-v2 puts "gross margin" next to
    "operating margin" and "assets" next to "liabilities" (cosine 0.92-0.98), closer than many
    paraphrases; a substituted term is the false hit to refuse, and reworded filler, word
    order, case and plurals are what a paraphrase of the same question changes."""
    return f"{question_numbers(question)}|{question_terms(question)}"


@dataclass(frozen=True)
class SemanticHit:
    """A cached answer found by a similar question: which tier served it, the question it was
    cached for, and the cosine similarity."""

    tier: str
    model: str
    question: str
    similarity: float
    payload: dict[str, Any]


class SemanticCache:
    """Lookup and store answers by question similarity within one context."""

    def __init__(self, engine: Engine, embed: QuestionEmbedder, *,
                 threshold: float = DEFAULT_THRESHOLD, default_ttl_s: float = 86_400.0) -> None:
        self.engine = engine
        self.embed = embed
        self.threshold = threshold
        self.default_ttl_s = default_ttl_s

    async def vector(self, question: str) -> list[float] | None:
        """The question's embedding, or None if it is not of the table's dimension."""
        vector = [float(x) for x in await self.embed(question)]
        return vector if len(vector) == QUESTION_DIMENSION else None

    def lookup_sync(self, tenant: str, *, vector: Sequence[float], question: str,
                    context: str, prompt_version: str, tiers: Sequence[str]
                    ) -> SemanticHit | None:
        if not tiers:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(_LOOKUP, {
                "tenant": tenant, "context": context, "prompt": prompt_version,
                "tiers": list(tiers), "guard": question_guard(question),
                "vector": list(vector)}).mappings().first()
        if row is None:
            return None
        similarity = 1.0 - float(row["distance"])
        if similarity < self.threshold:
            return None
        return SemanticHit(row["tier"], row["model"], row["question"], similarity,
                           row["payload"])

    async def lookup(self, tenant: str, *, vector: Sequence[float], question: str,
                     context: str, prompt_version: str, tiers: Sequence[str]
                     ) -> SemanticHit | None:
        """The live entry of the closest cached question on this context, prompt version and
        one of `tiers`, if it names the same numbers and is at least `threshold` similar."""
        return await asyncio.to_thread(
            self.lookup_sync, tenant, vector=vector, question=question, context=context,
            prompt_version=prompt_version, tiers=tiers)

    def put_sync(self, tenant: str, key: str, *, vector: Sequence[float], question: str,
                 context: str, prompt_version: str, tier: str, model: str,
                 payload: dict[str, Any], ttl_s: float | None = None) -> None:
        ttl = timedelta(seconds=self.default_ttl_s if ttl_s is None else ttl_s)
        stmt = pg_insert(LLMSemanticCache).values(
            tenant_id=tenant, key=key, context_hash=context, prompt_version=prompt_version,
            tier=tier, model=model, question=question, guard=question_guard(question),
            embedding=list(vector), payload=payload, expires_at=func.now() + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=[LLMSemanticCache.tenant_id, LLMSemanticCache.key],
            set_={"payload": stmt.excluded.payload, "embedding": stmt.excluded.embedding,
                  "created_at": func.now(), "expires_at": stmt.excluded.expires_at})
        with self.engine.begin() as conn:
            conn.execute(stmt)

    async def put(self, tenant: str, key: str, *, vector: Sequence[float], question: str,
                  context: str, prompt_version: str, tier: str, model: str,
                  payload: dict[str, Any], ttl_s: float | None = None) -> None:
        """Store (or refresh) an answer under its exact-cache `key` for `ttl_s` seconds."""
        await asyncio.to_thread(
            self.put_sync, tenant, key, vector=vector, question=question, context=context,
            prompt_version=prompt_version, tier=tier, model=model, payload=payload,
            ttl_s=ttl_s)
