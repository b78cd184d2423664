"""Quality and cost signals on `GET /metrics` of the e2e server after real requests: an
extraction that needed a re-ask (a parse failure, then a valid answer) and an answer with no
evidence, counted by model and prompt version, with the output tokens of the answered calls.
The router is built on the scripted OpenAI-protocol server and reports to the container's
registry, as the composition root's does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from prometheus_client.parser import text_string_to_metric_families

from pipelines.llm import Budget, Ledger, LLMConfig, Router, build_providers
from tests.support import scripted_openai as so
from tests.support.api import Server
from tests.support.extract import GOOD_RECEIPT, PRIMARY, RECEIPT_PAGES, llm_config

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@contextmanager
def routed(server: Server, config: LLMConfig) -> Iterator[Router]:
    """The container's router replaced by one on `config`, on the container's metrics."""
    providers, _ = build_providers(config, {})
    ledger = Ledger(server.container.engine)
    original = server.container.llm_router
    router = Router(config, providers, budget=Budget(server.container.engine, config.budgets,
                                                     ledger),
                    ledger=ledger, metrics=original.metrics)
    server.container.llm_router = router
    try:
        yield router
    finally:
        server.container.llm_router = original


def scrape(server: Server) -> Samples:
    response = httpx.get(f"{server.url}/metrics", timeout=30)
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_show_reasks_parse_failures_tokens_and_insufficient_evidence(
        server: Server, alpha: httpx.Client, scripted_openai: so.ScriptedOpenAI) -> None:
    before = scrape(server)
    scripted_openai.script(so.text("not JSON at all", usage=(100, 7)),
                           so.structured(GOOD_RECEIPT, usage=(120, 30)))
    with routed(server, llm_config(scripted_openai)):
        response = alpha.post("/v1/extract", json={"schema": "receipt",
                                                   "text": "\f".join(RECEIPT_PAGES)})
        assert response.status_code == 200, response.text
        assert response.json()["attempts"] == 2
        asked = alpha.post("/v1/ask", json={"question": "What is the warranty period?",
                                            "collection": f"empty-{uuid.uuid4().hex}",
                                            "stream": False})
        assert asked.status_code == 200, asked.text
    after = scrape(server)

    model = {"model": PRIMARY}
    assert delta(before, after, "lectern_extract_attempts_total", prompt="extract@v1",
                 result="parse_failure", **model) == 1
    assert delta(before, after, "lectern_extract_attempts_total", prompt="extract_reask@v1",
                 result="valid", **model) == 1
    assert delta(before, after, "lectern_extractions_total", prompt="extract@v1",
                 outcome="valid_after_reask", **model) == 1
    tokens = {"task": "extract", **model}
    assert delta(before, after, "lectern_llm_output_tokens_sum", prompt="extract@v1",
                 **tokens) == 7
    assert delta(before, after, "lectern_llm_output_tokens_sum", prompt="extract_reask@v1",
                 **tokens) == 30
    assert delta(before, after, "lectern_llm_attempts_total", prompt="extract@v1",
                 outcome="ok", **tokens) == 1
    insufficient = [k for k in after if k[0] == "lectern_answers_total"
                    and ("evidence", "insufficient") in k[1]]
    assert sum(delta(before, after, k[0], **dict(k[1])) for k in insufficient) == 1
    assert all(dict(k[1])["model"] == "none" for k in insufficient)
