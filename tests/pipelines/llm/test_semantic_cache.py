"""Semantic answer cache through the router with the FakeProvider: a similar question on the
same context is replayed; another context, tenant, prompt version, number or an opted-out
request is not; misses, exact and semantic hits are counted; expired rows are purged."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from pipelines.llm.budget import Budget
from pipelines.llm.cache import AnswerCache
from pipelines.llm.ledger import Ledger
from pipelines.llm.metrics import LLMMetrics
from pipelines.llm.providers.fake import FakeProvider
from pipelines.llm.route_request import CacheQuery, RouteRequest
from pipelines.llm.router import Router
from pipelines.llm.router_events import RoutedCompletion
from pipelines.llm.semantic_cache import (
    SemanticCache,
    context_hash,
    question_guard,
    question_numbers,
)
from tests.support.routing import MESSAGES, FakeClock, config, tenant

CHUNKS = [("c1", "h1"), ("c2", "h2")]
ASKED = "What was revenue in 2023?"
# Cosine of each question with ASKED (the scripted embedder puts them at these angles).
COSINES = {ASKED: 1.0, "How much revenue was there in 2023?": 0.95,
           "Revenue in 2023, what was it?": 0.80, "What was gross revenue in 2023?": 0.97,
           "What was revenue in 2024?": 0.99}


class ScriptedEmbedder:
    """Unit vectors at a chosen cosine from ASKED's; counts the calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail = False

    async def __call__(self, question: str) -> Sequence[float]:
        self.calls.append(question)
        if self.fail:
            raise RuntimeError("embedder down")
        cos = COSINES[question]
        return [cos, math.sqrt(max(0.0, 1 - cos * cos))] + [0.0] * 382


def semantic_router(engine: Engine, provider: FakeProvider, embed: ScriptedEmbedder,
                    **cache: object) -> Router:
    cfg = config(cache={"enabled": True, **cache})
    ledger = Ledger(engine)
    return Router(cfg, {"cheap": provider}, budget=Budget(engine, cfg.budgets, ledger),
                  ledger=ledger, metrics=LLMMetrics(CollectorRegistry()), clock=FakeClock(),
                  cache=AnswerCache(engine), semantic_cache=SemanticCache(
                      engine, embed, threshold=cfg.cache.semantic_threshold))


async def ask(r: Router, t: str, question: str, *, chunks: Sequence[tuple[str, str]] = CHUNKS,
              prompt: str = "answer@v1", semantic: bool = True) -> RoutedCompletion:
    """An answer call asking for both caches (as the answer use case does) unless opted out."""
    return await r.complete(RouteRequest("answer", t, MESSAGES, prompt=prompt, cache=CacheQuery(
        question, chunks, semantic=semantic)))


def lookups(r: Router, result: str) -> float:
    value = r.metrics.registry.get_sample_value(
        "lectern_llm_cache_lookups_total", {"task": "answer", "result": result})
    return value or 0.0


async def test_a_paraphrase_on_the_same_context_is_a_semantic_hit(engine: Engine) -> None:
    cheap, embed = FakeProvider("cheap", default_reply="Revenue was $5M [1]."), ScriptedEmbedder()
    r, t = semantic_router(engine, cheap, embed), tenant()
    first = await ask(r, t, ASKED)
    assert not first.served.cached and len(cheap.calls) == 1

    hit = await ask(r, t, "How much revenue was there in 2023?", chunks=CHUNKS[::-1])
    assert len(cheap.calls) == 1 and hit.text == "Revenue was $5M [1]." and hit.cost_usd == 0
    assert (hit.served.cached, hit.served.cache, hit.served.cached_question) == (
        True, "semantic", ASKED)
    again = await ask(r, t, ASKED)  # the exact cache answers first, without embedding
    assert again.served.cache == "exact" and embed.calls.count(ASKED) == 1
    assert (lookups(r, "miss"), lookups(r, "semantic_hit"), lookups(r, "hit")) == (1, 1, 1)
    rows = await Ledger(engine).calls(tenant=t)
    assert [(x.cached, x.cost_usd) for x in rows[1:]] == [(True, 0.0), (True, 0.0)]


@pytest.mark.parametrize(("question", "chunks", "tenant_kind", "prompt", "semantic"), [
    ("Revenue in 2023, what was it?", CHUNKS, "same", "answer@v1", True),  # below threshold
    ("What was gross revenue in 2023?", CHUNKS, "same", "answer@v1", True),  # another term
    ("What was revenue in 2024?", CHUNKS, "same", "answer@v1", True),  # another year
    ("How much revenue was there in 2023?", [("c1", "h1"), ("c2", "new")], "same",
     "answer@v1", True),  # the corpus changed
    ("How much revenue was there in 2023?", [("c1", "h1")], "same", "answer@v1", True),
    ("How much revenue was there in 2023?", CHUNKS, "other", "answer@v1", True),
    ("How much revenue was there in 2023?", CHUNKS, "same", "answer@v2", True),
    ("How much revenue was there in 2023?", CHUNKS, "same", "answer@v1", False),  # opt-out
])
async def test_no_semantic_hit_without_every_guard(
        engine: Engine, question: str, chunks: list[tuple[str, str]], tenant_kind: str,
        prompt: str, semantic: bool) -> None:
    cheap = FakeProvider("cheap", default_reply="An answer [1].")
    r, t = semantic_router(engine, cheap, ScriptedEmbedder()), tenant()
    await ask(r, t, ASKED)
    other = await ask(r, t if tenant_kind == "same" else tenant(), question, chunks=chunks,
                      prompt=prompt, semantic=semantic)
    assert not other.served.cached and len(cheap.calls) == 2


async def test_semantic_off_in_config_and_a_failing_embedder_are_misses(engine: Engine) -> None:
    cheap, embed = FakeProvider("cheap", default_reply="An answer [1]."), ScriptedEmbedder()
    off, t = semantic_router(engine, cheap, embed, semantic=False), tenant()
    await ask(off, t, ASKED)
    assert not (await ask(off, t, "How much revenue was there in 2023?")).served.cached
    assert embed.calls == []

    r = semantic_router(engine, cheap, embed)
    await r.complete(RouteRequest("answer", tenant(), MESSAGES, prompt="answer@v1",
                                  cache=CacheQuery(ASKED, ())))  # no context: exact cache only
    assert embed.calls == []
    embed.fail = True
    reply = await ask(r, tenant(), ASKED)  # answered anyway, just not cached semantically
    assert not reply.served.cached and reply.text == "An answer [1]."


async def test_expired_semantic_entries_miss_and_are_purged(engine: Engine) -> None:
    cheap = FakeProvider("cheap", default_reply="An answer [1].")
    r, t = semantic_router(engine, cheap, ScriptedEmbedder(), ttl_s=0.001), tenant()
    await ask(r, t, ASKED)
    assert not (await ask(r, t, "How much revenue was there in 2023?")).served.cached
    assert AnswerCache(engine).purge_expired() >= 2  # the exact and the semantic rows


def test_guards_helpers() -> None:
    assert context_hash(CHUNKS) == context_hash(CHUNKS[::-1]) != context_hash(CHUNKS[:1])
    assert question_numbers("FY2019 vs 2,018 and 3.5%") == "2018 2019 3.5"
    assert question_numbers("What was revenue?") == ""
    assert question_guard("What were Nike's total current assets?") == question_guard(
        "Please tell me Nike's total current asset") == "|asset current nik total"
    assert question_guard("Total current assets?") != question_guard("Total current liabilities?")
    assert question_guard("Is it not growing?") != question_guard("Is it growing?")
