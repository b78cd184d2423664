"""The gateway's policies end to end, over HTTP against the e2e server, with a real Router on
a scripted OpenAI-protocol server through the `openai` SDK: structured output that adapts to a
server rejecting `json_schema` (llama-cpp-python's), per-task budgets (402 naming the task's
budget), and the semantic answer cache (a reworded question is answered from the cache, the
provider not called; once the corpus changed, no hit)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from app.db.engine import make_engine
from pipelines.llm import Budget, Ledger, LLMConfig, LLMMetrics, Router, build_providers
from tests.support import scripted_openai as so
from tests.support.answer_corpus import WARRANTY_QUESTION
from tests.support.api import Server
from tests.support.ask import World, ask_sse, openai_config
from tests.support.extract import GOOD_RECEIPT, RECEIPT_PAGES, llm_config
from tests.support.scripted_llamacpp import rejecting_openai_server


@contextmanager
def routed(server: Server, config: LLMConfig) -> Iterator[Router]:
    """The e2e container's router replaced by one built from `config` (put back after)."""
    providers, _ = build_providers(config, {})
    ledger = Ledger(server.container.engine)
    router = Router(config, providers, budget=Budget(server.container.engine, config.budgets,
                                                     ledger),
                    ledger=ledger, metrics=LLMMetrics(CollectorRegistry()))
    original = server.container.llm_router
    server.container.llm_router = router
    try:
        yield router
    finally:
        server.container.llm_router = original


def test_extract_on_a_server_rejecting_json_schema_succeeds(
        server: Server, alpha: httpx.Client) -> None:
    with rejecting_openai_server(status=500) as llamacpp:
        config = llm_config(llamacpp, breaker={"failures_to_open": 1})
        llamacpp.script(so.structured(GOOD_RECEIPT), so.structured(GOOD_RECEIPT))
        with routed(server, config) as router:
            for _ in range(2):
                response = alpha.post("/v1/extract", json={
                    "schema": "receipt", "text": "\f".join(RECEIPT_PAGES)})
                assert response.status_code == 200, response.text
                body = response.json()
                assert body["valid"] and body["data"]["total"] == "9.00"
                assert body["structured"] == "json_object" and body["attempts"] == 1
            assert str(router.breakers.get("primary").state) == "closed"
    assert llamacpp.rejections == ["json_schema"]  # learnt once, then remembered
    assert llamacpp.last_request.body["response_format"] == {"type": "json_object"}


def test_a_spent_task_budget_is_402_naming_it_and_usage_shows_it(
        server: Server, alpha: httpx.Client, scripted_openai: so.ScriptedOpenAI) -> None:
    config = llm_config(scripted_openai, budgets={"daily_usd": 5.0,
                                                  "tasks": {"extract": 0.0001}})
    with routed(server, config):
        response = alpha.post("/v1/extract", json={"schema": "receipt",
                                                   "text": "\f".join(RECEIPT_PAGES)})
        assert response.status_code == 402, response.text
        error = response.json()["error"]
        assert error["code"] == "budget_exceeded" and "task 'extract'" in error["message"]
        assert (error["details"]["budget"], error["details"]["task"]) == ("task", "extract")
        assert error["details"]["budget_usd"] == 0.0001
        usage = alpha.get("/v1/usage").json()
        assert usage["task_budgets"]["extract"]["budget_usd"] == 0.0001
        assert usage["budget"]["budget_usd"] == 5.0
    assert not scripted_openai.requests  # refused before any call


def test_a_reworded_question_is_a_semantic_hit_until_the_corpus_changes(
        start: Any, world: World, scripted_openai: so.ScriptedOpenAI) -> None:
    server = start(openai_config(scripted_openai, ("scripted", "scripted-model", 1.0),
                                 cache=True))
    reply = "The Lectern 3000 projector has a two-year warranty [1]."
    scripted_openai.script(so.text(reply))
    ref = f"(ref {uuid.uuid4().hex[:6]})"
    client = server.client()
    first = ask_sse(client, f"{WARRANTY_QUESTION} {ref}")
    assert first.first("meta")["cached"] is False and first.text == reply

    reworded = f"For the Lectern 3000 projector, how long is the warranty? {ref}"
    again = ask_sse(client, reworded)
    meta = again.first("meta")
    assert (meta["cached"], meta["cache"], meta["cached_question"]) == (
        True, "semantic", f"{WARRANTY_QUESTION} {ref}")
    assert again.text == reply and len(scripted_openai.requests) == 1
    assert again.first("usage")["cost_usd"] == 0
    scripted_openai.script(so.text(reply))
    opted_out = ask_sse(client, reworded, semantic_cache=False)
    assert opted_out.first("meta")["cached"] is False and len(scripted_openai.requests) == 2

    engine = make_engine(world.database_url)
    try:
        with engine.begin() as conn:  # re-ingested text: every alpha chunk's hash changes
            conn.execute(text("UPDATE chunks SET content_hash = content_hash || '-v2' "
                              "WHERE tenant_id = 'alpha'"))
    finally:
        engine.dispose()
    scripted_openai.script(so.text(reply))
    changed = ask_sse(client, reworded)
    assert changed.first("meta")["cached"] is False and len(scripted_openai.requests) == 3
