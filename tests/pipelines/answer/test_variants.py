"""Prompt variants through the answer use case: real PostgreSQL, the real embedder, the
FakeProvider at the LLM seam. Over N distinct questions both versions are served in proportion
to their weights (within a tolerance of four standard deviations of the binomial split), each
answer's variant is the prompt its model was given and its ledger rows book, and asking the
same question again gets the same version."""

from __future__ import annotations

import math
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ingest.embedding import SentenceTransformerEmbedder, default_model_path
from pipelines.answer import AnswerEvent, Meta, answer
from pipelines.llm import (
    Budget,
    FakeProvider,
    Ledger,
    LLMConfig,
    LLMMetrics,
    PromptRegistry,
    Router,
    StaticVariants,
    parse_config,
)
from pipelines.search import Question
from tests.support.answer_corpus import ALPHA, WARRANTY_QUESTION, seed

N = 200
REPLY = "The warranty lasts two years [1]."


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformerEmbedder(default_model_path())


@pytest.fixture(scope="module")
def tenant() -> str:
    return "t-" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def corpus(engine: Engine, embedder: SentenceTransformerEmbedder, tenant: str) -> Iterator[None]:
    with Session(engine) as session:
        seed(session, tenant=tenant, embed=embedder.embed, passages=ALPHA)
        session.commit()
    yield


def config(weights: dict[str, float]) -> LLMConfig:
    raw: dict[str, Any] = {
        "providers": {"fake": {"kind": "fake"}},
        "models": [{"id": "fake-1", "provider": "fake", "tier": "mid",
                    "price_in_per_mtok": 1.0, "price_out_per_mtok": 2.0}],
        "prompts": {"answer": {"variants": weights}},
    }
    return parse_config(raw, {})


def routed(engine: Engine, cfg: LLMConfig, provider: FakeProvider) -> Router:
    ledger = Ledger(engine)
    prompts = PromptRegistry(variants=StaticVariants(cfg.variant_weights()))
    return Router(cfg, {"fake": provider}, budget=Budget(engine, cfg.budgets, ledger),
                  ledger=ledger, metrics=LLMMetrics(), prompts=prompts)


async def meta_of(session: Session, router: Router, tenant: str, embedder: Any,
                  text: str) -> Meta:
    async with await answer(session, tenant=tenant, question=Question(text, top_k=3),
                            embedder=embedder, router=router) as events:
        got: list[AnswerEvent] = [e async for e in events]
    meta = got[0]
    assert isinstance(meta, Meta) and got[-1].name == "done"
    return meta


async def test_both_variants_are_served_in_proportion_and_booked_as_served(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: None) -> None:
    weights = {"answer@v1": 0.5, "answer@v2": 0.5}  # other weights: tests/pipelines/llm
    provider = FakeProvider("fake", default_reply=REPLY)
    router = routed(engine, config(weights), provider)
    questions = [f"{WARRANTY_QUESTION} (case {i}, {uuid.uuid4().hex[:6]})" for i in range(N)]

    metas = [await meta_of(db_session, router, tenant, embedder, q) for q in questions]

    served = Counter(m.variant for m in metas)
    share = weights["answer@v2"] / sum(weights.values())
    tolerance = 4 * math.sqrt(N * share * (1 - share))
    print(f"\n{N} answers at {weights}: {dict(served)} (expected v2 {N * share:.0f} "
          f"± {tolerance:.0f})")
    assert set(served) == {"answer@v1", "answer@v2"}
    assert abs(served["answer@v2"] - N * share) <= tolerance
    assert all(m.prompt == m.variant and m.answer_id for m in metas)
    assert len({m.answer_id for m in metas}) == N
    # The model was given the version's own wording, and the ledger booked that version.
    for meta, call in zip(metas, provider.calls, strict=True):
        assert ("ONE sentence" in call.messages[0].content) == (meta.variant == "answer@v2")
    for meta in metas[:20]:
        rows = await Ledger(engine).calls(request_id=meta.request_id)
        assert [r.prompt_version for r in rows] == [meta.variant]


async def test_assignment_is_sticky_per_question_and_per_conversation_key(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: None) -> None:
    router = routed(engine, config({"answer@v1": 1, "answer@v2": 1}),
                    FakeProvider("fake", default_reply=REPLY))
    questions = [f"{WARRANTY_QUESTION} #{i}" for i in range(12)]
    first = [(await meta_of(db_session, router, tenant, embedder, q)).variant for q in questions]
    again = [(await meta_of(db_session, router, tenant, embedder, "  " + q.upper()))
             .variant for q in questions]  # case and spacing folded: the same question
    assert first == again and len(set(first)) == 2
    conversation = str(uuid.uuid4())
    chosen = {router.prompts.choose("answer", conversation).ref for _ in range(5)}
    assert len(chosen) == 1


async def test_without_variants_the_latest_non_draft_version_answers(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: None) -> None:
    cfg = parse_config({"providers": {"fake": {"kind": "fake"}},
                        "models": [{"id": "fake-1", "provider": "fake", "tier": "mid"}]}, {})
    router = routed(engine, cfg, FakeProvider("fake", default_reply=REPLY))
    meta = await meta_of(db_session, router, tenant, embedder, WARRANTY_QUESTION)
    assert (meta.variant, meta.prompt) == ("answer@v1", "answer@v1")  # answer@v2 is a draft
