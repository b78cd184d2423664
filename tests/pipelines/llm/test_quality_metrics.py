"""The quality and cost signals in the Prometheus text, after a few calls on FakeProviders:
output tokens per answered attempt, attempts by outcome (the fallback rate), cache results
(hit rates) and extraction attempts and outcomes (parse failures, re-asks), by task, model
and prompt version."""

from __future__ import annotations

import json

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from pipelines.extract import SourcePage, extract
from pipelines.llm import (
    CacheQuery,
    FakeProvider,
    Message,
    ProviderError,
    Router,
    RouteRequest,
    TokenUsage,
)
from pipelines.llm.metrics import label
from tests.support.extract import GOOD_RECEIPT, RECEIPT_PAGES
from tests.support.routing import config, tenant
from tests.support.routing import router as make_router

MESSAGES = (Message("system", "Answer."), Message("user", "Why?"))


def samples(router: Router) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the router's registry, as the /metrics text has it."""
    text = generate_latest(router.metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_output_tokens_and_the_fallback_rate_by_model_and_prompt(engine: Engine) -> None:
    cheap = FakeProvider("cheap", [ProviderError("down", provider="cheap", status=503)],
                         default_reply="fine", usage=TokenUsage(5, 40))
    pricey = FakeProvider("pricey", default_reply="two words", usage=TokenUsage(20, 300))
    router = make_router(engine, config(), {"cheap": cheap, "pricey": pricey,
                                            "local": FakeProvider("local")})
    t = tenant()
    await router.complete(RouteRequest("answer", t, MESSAGES, prompt="answer@v1"))
    await router.complete(RouteRequest("answer", t, MESSAGES, prompt="answer@v1"))

    found = samples(router)
    task = {"task": "answer", "prompt": "answer@v1"}
    assert value(found, "lectern_llm_attempts_total", model="cheap-1", outcome="fallback",
                 **task) == 1
    assert value(found, "lectern_llm_attempts_total", model="cheap-1", outcome="ok",
                 **task) == 1  # the breaker took one failure, then cheap served
    assert value(found, "lectern_llm_attempts_total", model="pricey-1", outcome="ok",
                 **task) == 1
    assert value(found, "lectern_llm_output_tokens_count", model="pricey-1", **task) == 1
    assert value(found, "lectern_llm_output_tokens_sum", model="pricey-1", **task) == 300
    assert value(found, "lectern_llm_output_tokens_bucket", model="pricey-1", le="256.0",
                 **task) == 0
    assert value(found, "lectern_llm_output_tokens_bucket", model="pricey-1", le="512.0",
                 **task) == 1
    assert value(found, "lectern_llm_output_tokens_sum", model="cheap-1", **task) == 40


async def test_cache_hits_and_misses_by_model_and_prompt(engine: Engine) -> None:
    cheap = FakeProvider("cheap", default_reply="cached answer")
    router = make_router(engine, config(), {"cheap": cheap, "pricey": FakeProvider("pricey"),
                                            "local": FakeProvider("local")}, with_cache=True)
    t = tenant()
    query = CacheQuery(question="why?", chunks=(("c1", "h1"),))
    for _ in range(3):
        await router.complete(RouteRequest("answer", t, MESSAGES, prompt="answer@v1",
                                           cache=query))
    found = samples(router)
    labels = {"task": "answer", "model": "cheap-1", "prompt": "answer@v1"}
    assert value(found, "lectern_llm_cache_results_total", result="miss", **labels) == 1
    assert value(found, "lectern_llm_cache_results_total", result="hit", **labels) == 2
    assert value(found, "lectern_llm_attempts_total", outcome="cached", **labels) == 2
    assert value(found, "lectern_llm_attempts_total", outcome="ok", **labels) == 1
    assert len(cheap.calls) == 1


async def test_extraction_parse_failures_and_reasks(engine: Engine) -> None:
    cheap = FakeProvider("cheap", ["this is not JSON", json.dumps({"company": 5}),
                                   json.dumps(GOOD_RECEIPT), json.dumps(GOOD_RECEIPT)])
    router = make_router(engine, config(), {"cheap": cheap, "pricey": FakeProvider("pricey"),
                                            "local": FakeProvider("local")})
    pages = [SourcePage(i, text) for i, text in enumerate(RECEIPT_PAGES, start=1)]
    t = tenant()
    reasked = await extract(router, tenant=t, schema="receipt", pages=pages)
    first_time = await extract(router, tenant=t, schema="receipt", pages=pages)
    assert (reasked.attempts, first_time.attempts) == (3, 1)

    found = samples(router)
    model = {"model": "cheap-1"}
    attempts = "lectern_extract_attempts_total"
    assert value(found, attempts, prompt="extract@v1", result="parse_failure", **model) == 1
    assert value(found, attempts, prompt="extract_reask@v1", result="schema_failure",
                 **model) == 1
    assert value(found, attempts, prompt="extract_reask@v1", result="valid", **model) == 1
    assert value(found, attempts, prompt="extract@v1", result="valid", **model) == 1
    outcomes = "lectern_extractions_total"
    assert value(found, outcomes, prompt="extract@v1", outcome="valid_after_reask",
                 **model) == 1
    assert value(found, outcomes, prompt="extract@v1", outcome="valid", **model) == 1


def test_label_values_are_bounded() -> None:
    assert label(None) == label("") == "none"
    assert len(label("x" * 500)) == 80
