"""Retrieval quality with the real MiniLM model: hybrid beats each single mode; the threshold.

The fixture is a small maintenance-and-HR knowledge base built so each mode alone has a blind
spot a real corpus has too:

- *exact-term* questions name a fault code or model number ("E-4410", "ZX-18") next to
  near-identical documents about sibling codes: the embedding barely tells them apart, full
  text nails the code;
- *paraphrase* questions share few words with their answer, and a lexically closer but
  off-topic document outranks it in full text; the embedding gets the meaning.

Hybrid (RRF) should get both kinds right, so its MRR must beat vector-only and text-only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy.orm import Session

from ingest.embedding import SentenceTransformerEmbedder
from retrieval.search import search
from retrieval.threshold import DEFAULT_MIN_SCORE
from tests.support.retrieval_corpus import add_document

CORPUS = {
    # Near-identical tickets and parts: only the identifier tells them apart.
    "t58213": "Ticket 58213 was opened by the finance team after the shared printer on the third "
    "floor stopped responding; the technician replaced the fuser and closed it.",
    "t58231": "Ticket 58231 was opened by the sales team after the shared printer on the second "
    "floor kept jamming; the technician cleaned the rollers and closed it.",
    "t85213": "Ticket 85213 was opened by the legal team after the shared scanner on the third "
    "floor stopped responding; the technician reinstalled the driver and closed it.",
    "px7710b": "Part PX-7710-B is the left hinge of the cabinet door, made of stainless steel.",
    "px7701b": "Part PX-7701-B is the right hinge of the cabinet door, made of stainless steel.",
    "px7710d": "Part PX-7710-D is the left hinge of the drawer front, made of stainless steel.",
    # Policies whose questions are usually asked in other words.
    "refund": "Customers may return purchases within 30 days and get a full reimbursement.",
    "shipping": "Orders bought online ship within two business days; money is charged on dispatch.",
    "leave": "Employees accrue twenty-five days of paid leave each year.",
    "timesheet": "Staff must log the time they work each year in the timesheet system.",
    "visitors": "Visitors sign in at reception and wear a badge while in the building.",
    "building": "The building procedure for new offices requires a fire inspection.",
    "backup": "Backups of the database run nightly and we keep them for ninety days.",
    "dashboard": "The data team publishes copies of the sales dashboard to managers.",
}
QUERIES = {
    "58231 status": "t58231",
    "who handled 85213": "t85213",
    "details for 58213": "t58213",
    "PX-7701-B": "px7701b",
    "PX-7710-D material": "px7710d",
    "Can I send back something I bought and get my money refunded?": "refund",
    "How many holidays do staff get per year?": "leave",
    "What is the procedure when guests arrive at the building?": "visitors",
    "How long do we keep copies of the data?": "backup",
    "When will my order be dispatched?": "shipping",
}


THRESHOLD_QUESTION = "printer ticket team dashboard"
OFF_TOPIC = (
    "Who won the football world cup final?",
    "What is a good recipe for sourdough bread?",
    "How do I reset my router password?",
)
Embed = Callable[[Sequence[str]], list[list[float]]]


@pytest.fixture(scope="module")
def embed(minilm: SentenceTransformerEmbedder) -> Embed:
    """MiniLM with a cache: every text of this module is embedded once, in one batch."""
    texts = [*CORPUS.values(), *QUERIES, *OFF_TOPIC, THRESHOLD_QUESTION]
    cache = dict(zip(texts, minilm.embed(texts), strict=True))

    def cached(batch: Sequence[str]) -> list[list[float]]:
        missing = [t for t in batch if t not in cache]
        cache.update(zip(missing, minilm.embed(missing), strict=True))
        return [cache[t] for t in batch]

    return cached


@pytest.fixture
def knowledge_base(db_session: Session, embed: Embed) -> dict[uuid.UUID, str]:
    """The corpus above, one document per entry, in tenant `acme`: document id → key."""
    ids = {}
    for key, body in CORPUS.items():
        document = add_document(
            db_session, tenant="acme", texts=[body], embed=embed, filename=f"{key}.txt"
        )
        ids[document.id] = key
    return ids


def reciprocal_ranks(
    session: Session, embed: Embed, ids: dict[uuid.UUID, str], mode: str
) -> list[float]:
    vectors = embed(list(QUERIES))
    ranks = []
    for (question, answer), vector in zip(QUERIES.items(), vectors, strict=True):
        hits = search(
            session,
            tenant="acme",
            query_text=question,
            query_vector=vector,
            mode=mode,  # type: ignore[arg-type]
            top_k=10,
            min_score=-1.0,
        )
        keys = [ids[h.document_id] for h in hits]
        ranks.append(1 / (keys.index(answer) + 1) if answer in keys else 0.0)
    return ranks


def test_hybrid_beats_vector_only_and_text_only(
    db_session: Session, embed: Embed, knowledge_base: dict[uuid.UUID, str]
) -> None:
    mrr = {
        mode: sum(reciprocal_ranks(db_session, embed, knowledge_base, mode)) / len(QUERIES)
        for mode in ("vector", "text", "hybrid")
    }
    assert mrr["hybrid"] > mrr["vector"], mrr
    assert mrr["hybrid"] > mrr["text"], mrr
    assert mrr["hybrid"] >= 0.8, mrr


@pytest.mark.parametrize("mode", ["vector", "text", "hybrid"])
def test_off_topic_questions_find_nothing_above_the_default_threshold(
    db_session: Session,
    embed: Embed,
    knowledge_base: dict[uuid.UUID, str],
    mode: str,
) -> None:
    for question, vector in zip(OFF_TOPIC, embed(OFF_TOPIC), strict=True):
        arguments: dict[str, Any] = {"tenant": "acme", "query_text": question,
                                     "query_vector": vector}
        unfiltered = search(db_session, **arguments, mode="vector", min_score=-1.0)
        assert unfiltered, "the corpus is not empty: without a threshold something comes back"
        assert search(db_session, **arguments, mode=mode) == []


@pytest.mark.parametrize("mode", ["vector", "text", "hybrid"])
def test_threshold_drops_exactly_the_weak_hits_before_the_top_k_cut(
    db_session: Session,
    embed: Embed,
    knowledge_base: dict[uuid.UUID, str],
    mode: str,
) -> None:
    # The dashboard document shares two words with the question (top of the text list) but
    # means something else (cosine ≈ 0.4); two tickets are strong (≈ 0.5-0.6).
    question, threshold = THRESHOLD_QUESTION, 0.45
    arguments = {"tenant": "acme", "query_text": question, "query_vector": embed([question])[0]}
    everything = search(db_session, **arguments, mode=mode, top_k=50, min_score=-1.0)  # type: ignore[arg-type]
    strong = [h.chunk_id for h in everything if h.score >= threshold]
    assert len(strong) == 2 and len(everything) > 2
    if mode != "vector":  # a weak hit ranks among the first two: cutting first would lose one
        assert any(h.score < threshold for h in everything[:2])
    kept = search(db_session, **arguments, mode=mode, top_k=2, min_score=threshold)  # type: ignore[arg-type]
    assert [h.chunk_id for h in kept] == strong
    assert {knowledge_base[h.document_id] for h in kept} == {"t58213", "t58231"}
    default = search(db_session, **arguments, mode=mode, top_k=50)  # type: ignore[arg-type]
    assert [h.chunk_id for h in default] == [
        h.chunk_id for h in everything if h.score >= DEFAULT_MIN_SCORE
    ]
