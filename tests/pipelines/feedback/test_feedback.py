"""Answers and feedback: every complete answer recorded under the `answer_id` of its `meta`
(through `answer_follow_up`, the path every door takes), one rating per answer (later feedback
replaces it), tenant isolation, and the per-variant report. Real PostgreSQL, the real
embedder, the FakeProvider at the LLM seam."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ingest.embedding import SentenceTransformerEmbedder, default_model_path
from pipelines.answer import AnswerEvent, Meta, Usage
from pipelines.conversation import answer_follow_up, create_conversation, get_conversation
from pipelines.feedback import (
    AnswerNotFound,
    get_answer,
    get_feedback,
    give_feedback,
    question_hash,
    variant_report,
)
from pipelines.llm import (
    Budget,
    FakeProvider,
    Ledger,
    LLMMetrics,
    PromptRegistry,
    Router,
    StaticVariants,
    parse_config,
)
from pipelines.search import Question
from tests.support.answer_corpus import ALPHA, UNRELATED_QUESTION, WARRANTY_QUESTION, seed

REPLY = "The warranty lasts two years [1]."
WEIGHTS = {"answer@v1": 1.0, "answer@v2": 1.0}


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


@pytest.fixture
def router(engine: Engine) -> Router:
    cfg = parse_config({"providers": {"fake": {"kind": "fake"}},
                        "models": [{"id": "fake-1", "provider": "fake", "tier": "mid",
                                    "price_in_per_mtok": 1.0, "price_out_per_mtok": 2.0}],
                        "prompts": {"answer": {"variants": WEIGHTS}}}, {})
    ledger = Ledger(engine)
    return Router(cfg, {"fake": FakeProvider("fake", default_reply=REPLY)},
                  budget=Budget(engine, cfg.budgets, ledger), ledger=ledger,
                  metrics=LLMMetrics(),
                  prompts=PromptRegistry(variants=StaticVariants(cfg.variant_weights())))


async def ask(engine: Engine, router: Router, embedder: Any, tenant: str, text: str,
              conversation_id: uuid.UUID | None = None) -> list[AnswerEvent]:
    with Session(engine) as session:
        async with await answer_follow_up(
                session, lambda: Session(engine), tenant=tenant, question=Question(text),
                history=[], conversation_id=conversation_id, embedder=embedder,
                router=router) as events:
            return [e async for e in events]


async def test_a_complete_answer_is_recorded_under_its_meta_id_and_can_be_rated_once(
        engine: Engine, router: Router, embedder: SentenceTransformerEmbedder,
        tenant: str) -> None:
    events = await ask(engine, router, embedder, tenant, WARRANTY_QUESTION)
    meta, usage = events[0], events[-2]
    assert isinstance(meta, Meta) and isinstance(usage, Usage) and meta.answer_id
    answer_id = uuid.UUID(meta.answer_id)
    with Session(engine) as session:
        row = get_answer(session, tenant=tenant, answer_id=answer_id)
        assert (row.prompt, row.model, row.provider, row.insufficient_evidence) == (
            meta.variant, "fake-1", "fake", False)
        assert (row.input_tokens, row.output_tokens, row.latency_ms) == (
            usage.input_tokens, usage.output_tokens, usage.latency_ms)
        assert row.cost_usd == pytest.approx(usage.cost_usd)
        assert row.question_hash == question_hash(f"  {WARRANTY_QUESTION.upper()} ")
        assert row.conversation_id is None and row.turn_id is None
        assert get_feedback(session, tenant=tenant, answer_id=answer_id) is None

        give_feedback(session, tenant=tenant, answer_id=answer_id, rating="down",
                      comment="too long")
        later = give_feedback(session, tenant=tenant, answer_id=answer_id, rating="up")
        stored = get_feedback(session, tenant=tenant, answer_id=answer_id)
        assert stored is not None and (stored.rating, stored.comment) == ("up", None)
        assert stored.created_at == later.created_at

        for other in ("someone-else", tenant):
            unknown = answer_id if other != tenant else uuid.uuid4()
            with pytest.raises(AnswerNotFound):
                give_feedback(session, tenant=other, answer_id=unknown, rating="up")
            with pytest.raises(AnswerNotFound):
                get_answer(session, tenant=other, answer_id=unknown)


async def test_a_conversation_keeps_its_variant_and_its_answers_name_their_turns(
        engine: Engine, router: Router, embedder: SentenceTransformerEmbedder,
        tenant: str) -> None:
    with Session(engine) as session:
        conversation_id = create_conversation(session, tenant=tenant).id
    variants = []
    for text in (WARRANTY_QUESTION, "And does it cover the lamp?", "Who pays for shipping?"):
        meta = (await ask(engine, router, embedder, tenant, text, conversation_id))[0]
        assert isinstance(meta, Meta)
        variants.append(meta.variant)
        with Session(engine) as session:
            row = get_answer(session, tenant=tenant, answer_id=uuid.UUID(str(meta.answer_id)))
            turns = get_conversation(session, tenant=tenant,
                                     conversation_id=conversation_id).turns
            assert row.conversation_id == conversation_id and row.turn_id == turns[-1].id
    assert len(set(variants)) == 1  # sticky per conversation


async def test_the_report_compares_the_variants(
        engine: Engine, router: Router, embedder: SentenceTransformerEmbedder) -> None:
    tenant = "t-" + uuid.uuid4().hex[:10]
    with Session(engine) as session:
        seed(session, tenant=tenant, embed=embedder.embed, passages=ALPHA)
        session.commit()
    metas: list[Meta] = []
    for i in range(16):
        text = f"{WARRANTY_QUESTION} ({i})" if i % 4 else f"{UNRELATED_QUESTION} ({i})"
        first = (await ask(engine, router, embedder, tenant, text))[0]
        assert isinstance(first, Meta)
        metas.append(first)
    with Session(engine) as session:
        for i, meta in enumerate(metas[:6]):
            give_feedback(session, tenant=tenant, answer_id=uuid.UUID(str(meta.answer_id)),
                          rating="up" if i % 2 else "down")
        report = {r.prompt: r for r in variant_report(session, tenant=tenant, name="answer",
                                                      live=WEIGHTS)}
        elsewhere = variant_report(session, tenant="nobody", name="answer", live=WEIGHTS)
    served = Counter(m.variant for m in metas)
    assert set(report) == {"answer@v1", "answer@v2"}
    for ref, stats in report.items():
        mine = [m for m in metas if m.variant == ref]
        rated = [i for i, m in enumerate(metas[:6]) if m.variant == ref]
        assert stats.answers == served[ref] and stats.weight == 1.0
        assert (stats.up, stats.down) == (sum(i % 2 for i in rated),
                                          sum(1 - i % 2 for i in rated))
        insufficient = sum(m.insufficient_evidence for m in mine)
        assert stats.insufficient_evidence == insufficient
        if stats.answers:
            assert stats.insufficient_evidence_rate == pytest.approx(insufficient / len(mine))
            assert stats.latency_p50_ms is not None and stats.latency_p95_ms is not None
            assert 0 < stats.latency_p50_ms <= stats.latency_p95_ms
        assert (stats.cost_usd > 0) == (insufficient < len(mine))
    assert sum(r.insufficient_evidence for r in report.values()) == 4
    assert [(r.prompt, r.answers) for r in elsewhere] == [("answer@v1", 0), ("answer@v2", 0)]
