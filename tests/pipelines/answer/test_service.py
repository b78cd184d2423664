"""The answer use case: real PostgreSQL, the real embedder, fakes only at the LLM seam."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ingest.embedding import SentenceTransformerEmbedder, default_model_path
from pipelines.answer import (
    INSUFFICIENT_EVIDENCE,
    AnswerError,
    AnswerEvent,
    Done,
    Handover,
    Meta,
    Sources,
    Token,
    Usage,
    answer,
    collect,
)
from pipelines.llm import (
    BudgetExceeded,
    FakeProvider,
    FakeStream,
    Ledger,
    LLMConfig,
    Router,
    count_messages,
    parse_config,
)
from pipelines.search import Question
from tests.support.answer_corpus import (
    ALPHA,
    UNRELATED_QUESTION,
    WARRANTY_QUESTION,
    seed,
)
from tests.support.routing import router as make_router

REPLY = "The warranty lasts two years [1]."


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformerEmbedder(default_model_path())


@pytest.fixture(scope="module")
def tenant() -> str:
    return "t-" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def corpus(engine: Engine, embedder: SentenceTransformerEmbedder,
           tenant: str) -> Iterator[dict[str, uuid.UUID]]:
    """The corpus, committed once for the module under its own tenant."""
    with Session(engine) as session:
        ids = seed(session, tenant=tenant, embed=embedder.embed, passages=ALPHA)
        session.commit()
    yield ids


def config(**sections: Any) -> LLMConfig:
    """small (mid, 420-token window) is cheapest, big (mid) next; extractive is added (free)."""
    raw: dict[str, Any] = {
        "providers": {"small": {"kind": "fake"}, "big": {"kind": "fake"}},
        "models": [
            {"id": "small-1", "provider": "small", "tier": "mid", "context_tokens": 420,
             "max_output_tokens": 100, "price_in_per_mtok": 1.0, "price_out_per_mtok": 2.0},
            {"id": "big-1", "provider": "big", "tier": "mid", "context_tokens": 16000,
             "max_output_tokens": 100, "price_in_per_mtok": 5.0, "price_out_per_mtok": 10.0},
        ],
        "tasks": {"answer": {"min_tier": "mid", "max_output_tokens": 100}},
    }
    raw.update(sections)
    return parse_config(raw, {})


async def run(session: Session, router: Router, tenant: str, embedder: SentenceTransformerEmbedder,
              text: str = WARRANTY_QUESTION, **options: Any) -> list[AnswerEvent]:
    events = await answer(session, tenant=tenant, question=Question(text, **options),
                          embedder=embedder, router=router)
    return [e async for e in events]


def sources_in(prompt: str) -> list[int]:
    """The source numbers rendered into a prompt (`[n] file, p. …` headers)."""
    return [n for n in range(1, 20) if f"\n[{n}] " in "\n" + prompt]


async def test_events_come_in_order_with_the_sources_the_model_read(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: dict[str, uuid.UUID]) -> None:
    big = FakeProvider("big", [REPLY])
    r = make_router(engine, config(), {"small": FakeProvider("small", [REPLY]), "big": big})

    events = await run(db_session, r, tenant, embedder, top_k=3)

    names = [e.name for e in events]
    assert names[:2] == ["meta", "sources"] and names[-2:] == ["usage", "done"]
    assert set(names[2:-2]) == {"token"}
    meta, sources = events[0], events[1]
    assert isinstance(meta, Meta) and isinstance(sources, Sources)
    assert (meta.provider, meta.model, meta.prompt) == ("small", "small-1", "answer@v1")
    assert "".join(e.text for e in events if isinstance(e, Token)) == REPLY
    assert [s.n for s in sources.sources] == [1, 2, 3]
    assert sources.sources[0].document_id == corpus["warranty"]  # the best match is [1]
    assert not big.calls
    usage = events[-2]
    assert isinstance(usage, Usage) and usage.ttft_ms is not None
    assert usage.latency_ms >= usage.ttft_ms >= usage.retrieval_ms
    assert usage.cost_usd > 0
    rows = await Ledger(engine).calls(request_id=meta.request_id)
    assert [(x.provider, x.outcome) for x in rows] == [("small", "ok")]


async def test_insufficient_evidence_calls_no_model_and_spends_nothing(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: dict[str, uuid.UUID]) -> None:
    small, big = FakeProvider("small"), FakeProvider("big")
    r = make_router(engine, config(), {"small": small, "big": big})

    events = await run(db_session, r, tenant, embedder, UNRELATED_QUESTION)

    assert [e.name for e in events] == ["meta", "sources", "token", "usage", "done"]
    meta, sources, token, usage, done = events
    assert isinstance(meta, Meta) and meta.insufficient_evidence and meta.provider is None
    assert isinstance(sources, Sources) and sources.sources == ()
    assert isinstance(token, Token) and token.text == INSUFFICIENT_EVIDENCE
    assert isinstance(usage, Usage) and usage.cost_usd == 0 and usage.input_tokens == 0
    assert isinstance(done, Done) and done.finish_reason == "insufficient_evidence"
    assert not small.calls and not big.calls
    assert await Ledger(engine).calls(request_id=meta.request_id) == []


async def test_each_model_gets_the_sources_that_fit_its_window(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: dict[str, uuid.UUID]) -> None:
    small = FakeProvider("small", [FakeStream("", fail_after=0)])  # fails before a token
    big = FakeProvider("big", [REPLY])
    r = make_router(engine, config(), {"small": small, "big": big})

    events = await run(db_session, r, tenant, embedder, top_k=8)

    small_prompt = small.calls[0].messages[-1].content
    big_prompt = big.calls[0].messages[-1].content
    assert count_messages(small.calls[0].messages, "small-1") + 100 <= 420
    assert 1 <= len(sources_in(small_prompt)) < len(sources_in(big_prompt))
    meta, sources = events[0], events[1]
    assert isinstance(meta, Meta) and meta.provider == "big" and meta.attempt == 2
    assert isinstance(sources, Sources)
    assert [s.n for s in sources.sources] == sources_in(big_prompt)  # what `big` was given
    assert [p.n for p in big.calls[0].passages] == [s.n for s in sources.sources]


async def test_a_repeated_question_is_replayed_from_the_cache_for_free(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: dict[str, uuid.UUID]) -> None:
    small = FakeProvider("small", [REPLY])
    r = make_router(engine, config(), {"small": small, "big": FakeProvider("big")},
                    with_cache=True)

    first = await run(db_session, r, tenant, embedder)
    again = await run(db_session, r, tenant, embedder,
                      "how long is the  WARRANTY on the Lectern 3000 projector?")

    assert isinstance(first[0], Meta) and not first[0].cached
    assert isinstance(again[0], Meta) and again[0].cached
    assert "".join(e.text for e in again if isinstance(e, Token)) == REPLY
    usage = again[-2]
    assert isinstance(usage, Usage) and usage.cost_usd == 0
    assert len(small.calls) == 1


async def test_a_break_after_tokens_ends_with_an_error_keeping_the_partial_text(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: dict[str, uuid.UUID]) -> None:
    small = FakeProvider("small", [FakeStream(REPLY, fail_after=2)])
    r = make_router(engine, config(router={"mid_stream": "error"}),
                    {"small": small, "big": FakeProvider("big")})

    events = await run(db_session, r, tenant, embedder)

    assert [e.name for e in events] == ["meta", "sources", "token", "token", "error"]
    error = events[-1]
    assert isinstance(error, AnswerError) and error.code == "provider_error"
    assert error.partial_text == "The warranty" and error.cost_usd is not None


async def test_a_break_after_tokens_is_continued_by_the_next_model(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: dict[str, uuid.UUID]) -> None:
    small = FakeProvider("small", [FakeStream(REPLY, fail_after=2)])
    big = FakeProvider("big", [" lasts two years [1]."])
    r = make_router(engine, config(), {"small": small, "big": big})

    events = await run(db_session, r, tenant, embedder)

    names = [e.name for e in events]
    assert names[:4] == ["meta", "sources", "token", "token"] and names[-2:] == ["usage", "done"]
    handover = events[4]
    assert isinstance(handover, Handover) and handover.provider == "big"
    assert handover.kept_chars == len("The warranty")
    assert "".join(e.text for e in events if isinstance(e, Token)) == REPLY
    assert big.calls[0].messages[-2].content == "The warranty"  # it saw the partial answer


async def test_an_exhausted_budget_refuses_before_any_event(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: dict[str, uuid.UUID]) -> None:
    small, big = FakeProvider("small", [REPLY]), FakeProvider("big", [REPLY])
    cfg = config(budgets={"daily_usd": 1e-7, "allow_downgrade": False})
    r = make_router(engine, cfg, {"small": small, "big": big})

    with pytest.raises(BudgetExceeded) as refused:
        await answer(db_session, tenant=tenant, question=Question(WARRANTY_QUESTION),
                     embedder=embedder, router=r)

    assert refused.value.http_status == 402
    assert {"budget_usd", "spent_usd", "remaining_usd"} <= refused.value.details.keys()
    assert not small.calls and not big.calls


async def test_collect_gives_the_same_content_as_one_object(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: dict[str, uuid.UUID]) -> None:
    r = make_router(engine, config(), {"small": FakeProvider("small", [REPLY]),
                                       "big": FakeProvider("big")})
    events = await answer(db_session, tenant=tenant, question=Question(WARRANTY_QUESTION,
                          top_k=2), embedder=embedder, router=r)

    result = await collect(events)

    assert result["answer"] == REPLY and result["error"] is None
    assert result["meta"]["provider"] == "small" and result["finish_reason"] == "stop"
    assert [s["n"] for s in result["sources"]] == [1, 2]
    assert result["usage"]["cost_usd"] > 0


async def test_an_answer_closed_before_it_is_read_closes_the_provider_stream_and_books_it(
        db_session: Session, engine: Engine, embedder: SentenceTransformerEmbedder,
        tenant: str, corpus: dict[str, uuid.UUID]) -> None:
    small = FakeProvider("small", [REPLY])
    r = make_router(engine, config(), {"small": small, "big": FakeProvider("big")})
    events = await answer(db_session, tenant=tenant, question=Question(WARRANTY_QUESTION),
                          embedder=embedder, router=r, request_id="never-read-" + tenant)
    assert small.open_streams == 1  # answer() waited for the first token: the call is live

    await events.aclose()  # the consumer never iterated (an SSE body that never started)

    assert small.open_streams == 0  # closed by aclose itself, not later by the GC
    rows = await Ledger(engine).calls(request_id="never-read-" + tenant)
    assert [(x.provider, x.outcome) for x in rows] == [("small", "cancelled")]
