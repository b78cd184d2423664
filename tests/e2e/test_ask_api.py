"""`/v1/ask`, `/v1/search`, `/v1/usage`, `/metrics` and `lectern ask` over real HTTP.

Real uvicorn, PostgreSQL and embedder; the LLM is the scripted OpenAI-protocol server reached
through the real `openai` SDK (or the built-in extractive answerer). Answers are read by a
real SSE client (httpx-sse) over the socket.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from app.cli.main import cli
from pipelines.answer import INSUFFICIENT_EVIDENCE
from pipelines.llm import Ledger, load_config
from retrieval.threshold import DEFAULT_MIN_SCORE
from tests.support import scripted_openai as so
from tests.support.answer_corpus import (
    REVENUE_QUESTION,
    UNRELATED_QUESTION,
    WARRANTY_QUESTION,
)
from tests.support.ask import AskServer, World, ask_sse, openai_config
from tests.support.scripted_openai import ScriptedOpenAI

REPLY = "The Lectern 3000 projector has a two-year warranty [1]."


@pytest.fixture
def scripted(start: Any, scripted_openai: ScriptedOpenAI) -> AskServer:
    """A server whose one model (`scripted-model`, tier mid) is on the scripted server."""
    server: AskServer = start(openai_config(scripted_openai, ("scripted", "scripted-model", 1.0)))
    return server


def metric(server: AskServer, name: str, **labels: str) -> float:
    """The value of one sample of the server's /metrics (0 when absent)."""
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return 0.0


def test_ask_streams_meta_sources_tokens_usage_done_through_the_openai_sdk(
        scripted: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.text(REPLY, usage=(321, 12)))

    got = ask_sse(scripted.client("alpha"), WARRANTY_QUESTION, top_k=3)

    assert got.status == 200 and got.headers["content-type"].startswith("text/event-stream")
    assert got.names[:2] == ["meta", "sources"] and got.names[-2:] == ["usage", "done"]
    assert set(got.names[2:-2]) == {"token"} and len(got.names) > 5  # streamed in pieces
    assert got.text == REPLY
    meta, sources, usage = got.first("meta"), got.first("sources"), got.first("usage")
    assert (meta["provider"], meta["model"], meta["tier"], meta["prompt"], meta["cached"]) == (
        "scripted", "scripted-model", "mid", "answer@v1", False)
    assert meta["request_id"] == got.headers["x-request-id"]
    assert [s["n"] for s in sources] == [1, 2, 3]
    assert sources[0]["filename"] == "warranty.md" and sources[0]["section"] == (
        "Support > Warranty") and sources[0]["page_start"] == 1
    assert (usage["input_tokens"], usage["output_tokens"]) == (321, 12)
    assert usage["cost_usd"] == pytest.approx((321 * 1.0 + 12 * 2.0) / 1e6)
    assert 0 < usage["ttft_ms"] <= usage["latency_ms"]
    sent = scripted_openai.last_request.body
    assert sent["model"] == "scripted-model" and sent["stream"] is True
    prompt = sent["messages"][-1]["content"]
    assert "[1] warranty.md, p. 1 — Support > Warranty" in prompt and WARRANTY_QUESTION in prompt
    assert metric(scripted, "lectern_llm_tokens_total", provider="scripted",
                  direction="input", task="answer") == 321
    assert metric(scripted, "lectern_llm_cost_usd_total", model="scripted-model") > 0
    assert metric(scripted, "lectern_llm_ttft_seconds_count", provider="scripted") == 1
    assert metric(scripted, "lectern_http_request_seconds_count", route="/v1/ask",
                  status="200") == 1
    assert metric(scripted, "lectern_http_first_byte_seconds_count", route="/v1/ask") == 1
    assert metric(scripted, "lectern_llm_breaker_state", provider="scripted") == 0


def test_a_500_before_the_first_token_fails_over_to_the_next_provider(
        start: Any, scripted_openai: ScriptedOpenAI) -> None:
    server = start(openai_config(scripted_openai, ("primary", "primary-model", 0.5),
                                 ("backup", "backup-model", 3.0)))
    scripted_openai.script(so.error(500), model="primary-model")
    scripted_openai.script(so.text(REPLY), model="backup-model")

    got = ask_sse(server.client(), WARRANTY_QUESTION)

    assert got.names[-1] == "done" and got.text == REPLY
    assert "error" not in got.names and "handover" not in got.names  # transparent
    meta = got.first("meta")
    assert (meta["provider"], meta["model"], meta["attempt"]) == ("backup", "backup-model", 2)
    assert [r.body["model"] for r in scripted_openai.requests] == ["primary-model",
                                                                    "backup-model"]
    rows = Ledger(server.container.engine).calls_sync(request_id=meta["request_id"])
    assert [(r.provider, r.outcome) for r in rows] == [("primary", "fallback"), ("backup", "ok")]
    assert metric(server, "lectern_llm_provider_errors_total", provider="primary") == 1
    assert metric(server, "lectern_llm_fallbacks_total", phase="before_first_token") == 1


def test_a_provider_dropping_mid_stream_is_continued_by_the_next(
        start: Any, scripted_openai: ScriptedOpenAI) -> None:
    server = start(openai_config(scripted_openai, ("primary", "primary-model", 0.5),
                                 ("backup", "backup-model", 3.0)))
    scripted_openai.script(so.disconnect(after_chunks=2, content="The projector has"),
                           model="primary-model")
    scripted_openai.script(so.text(" a two-year warranty [1]."), model="backup-model")

    got = ask_sse(server.client(), WARRANTY_QUESTION)

    assert got.names[:4] == ["meta", "sources", "token", "token"]
    assert got.names[4] == "handover" and got.names[-1] == "done"
    assert got.first("handover")["provider"] == "backup"
    assert got.text == "The projector a two-year warranty [1]."
    continuation = scripted_openai.requests[-1].body["messages"]
    assert continuation[-2] == {"role": "assistant", "content": "The projector"}


def test_insufficient_evidence_makes_no_provider_call(
        scripted: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    got = ask_sse(scripted.client(), UNRELATED_QUESTION)

    assert got.names == ["meta", "sources", "token", "usage", "done"]
    assert got.first("meta")["insufficient_evidence"] is True
    assert got.first("meta")["provider"] is None
    assert got.first("sources") == [] and got.text == INSUFFICIENT_EVIDENCE
    assert got.first("usage")["cost_usd"] == 0
    assert got.first("done") == {"finish_reason": "insufficient_evidence"}
    assert scripted_openai.requests == []


def test_retrieval_is_isolated_by_tenant(scripted: AskServer, world: World,
                                         scripted_openai: ScriptedOpenAI) -> None:
    secret = "What is the code name of the secret launch, Operation Bluebird?"
    bluebird = str(world.documents["beta"]["bluebird"])
    alpha_hits = scripted.client("alpha").post("/v1/search", json={"query": secret}).json()
    beta_hits = scripted.client("beta").post("/v1/search", json={"query": secret}).json()

    assert bluebird not in {h["document_id"] for h in alpha_hits["hits"]}
    assert beta_hits["hits"][0]["document_id"] == bluebird

    got = ask_sse(scripted.client("beta"), WARRANTY_QUESTION)  # only alpha has warranty docs
    assert got.first("meta")["insufficient_evidence"] is True
    assert scripted_openai.requests == []


def test_min_score_drops_weak_hits(scripted: AskServer,
                                   scripted_openai: ScriptedOpenAI) -> None:
    client = scripted.client()
    default = client.post("/v1/search", json={"query": WARRANTY_QUESTION}).json()
    strict = client.post("/v1/search", json={"query": WARRANTY_QUESTION,
                                             "min_score": 0.7}).json()

    assert default["min_score"] == DEFAULT_MIN_SCORE
    assert all(h["score"] >= DEFAULT_MIN_SCORE for h in default["hits"])
    assert 0 < len(strict["hits"]) < len(default["hits"])
    assert all(h["score"] >= 0.7 for h in strict["hits"])
    assert {h["chunk_id"] for h in strict["hits"]} < {h["chunk_id"] for h in default["hits"]}
    got = ask_sse(client, WARRANTY_QUESTION, min_score=0.99)
    assert got.first("sources") == [] and scripted_openai.requests == []


@pytest.mark.parametrize("mode", ["hybrid", "vector", "text"])
def test_search_filters_by_collection_documents_and_metadata(
        scripted: AskServer, world: World, mode: str) -> None:
    client, docs = scripted.client(), world.documents["alpha"]

    def files(**body: Any) -> set[str]:
        response = client.post("/v1/search", json={"query": REVENUE_QUESTION, "mode": mode,
                                                   "min_score": 0.0, **body})
        assert response.status_code == 200, response.text
        return {h["filename"] for h in response.json()["hits"]}

    assert files(collection="finance") == {"revenue-2023.md", "revenue-2022.md"}
    assert files(metadata={"year": 2022}) == {"revenue-2022.md"}
    assert files(metadata={"kind": "report", "year": 2023}) == {"revenue-2023.md"}
    chosen = files(document_ids=[str(docs["revenue-2023"]), str(docs["warranty"])])
    assert "revenue-2023.md" in chosen and chosen <= {"revenue-2023.md", "warranty.md"}


def test_ask_filters_reach_the_sources_and_the_prompt(
        scripted: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.text("Revenue was 4.2 million euros [1]."))

    got = ask_sse(scripted.client(), REVENUE_QUESTION, collection="finance")

    assert {s["filename"] for s in got.first("sources")} == {"revenue-2023.md",
                                                              "revenue-2022.md"}
    prompt = scripted_openai.last_request.body["messages"][-1]["content"]
    assert "revenue-2023.md" in prompt and "warranty" not in prompt.split("Question:")[0]


def test_invalid_filters_are_a_422_before_any_stream(scripted: AskServer) -> None:
    response = scripted.client().post("/v1/ask", json={"question": "x", "document_ids": []})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_a_second_identical_ask_is_replayed_from_the_cache_at_no_cost(
        start: Any, scripted_openai: ScriptedOpenAI) -> None:
    server = start(openai_config(scripted_openai, ("scripted", "scripted-model", 1.0),
                                 cache=True))
    scripted_openai.script(so.text(REPLY))
    question = f"{WARRANTY_QUESTION} (ref {uuid.uuid4().hex[:6]})"  # a key no run stored yet
    client = server.client()
    before = client.get("/v1/usage").json()

    first = ask_sse(client, question)
    again = ask_sse(client, question)

    assert first.first("meta")["cached"] is False and again.first("meta")["cached"] is True
    assert again.text == first.text == REPLY
    assert again.first("usage")["cost_usd"] == 0 and first.first("usage")["cost_usd"] > 0
    assert again.first("sources") == first.first("sources")
    assert len(scripted_openai.requests) == 1
    after = client.get("/v1/usage").json()
    delta = {k: after["totals"][k] - before["totals"][k] for k in after["totals"]}
    assert (delta["calls"], delta["cache_hits"], delta["errors"]) == (2, 1, 0)
    assert delta["cost_usd"] == pytest.approx(first.first("usage")["cost_usd"])
    assert after["budget"]["spent_usd"] >= delta["cost_usd"] and after["tenant"] == "alpha"
    assert any(r["model"] == "scripted-model" and r["task"] == "answer" for r in after["rows"])
    assert metric(server, "lectern_llm_cache_lookups_total", result="hit") == 1


def test_an_exhausted_budget_is_a_402_naming_budget_spent_and_remaining(
        start: Any, scripted_openai: ScriptedOpenAI) -> None:
    server = start(openai_config(scripted_openai, ("scripted", "scripted-model", 1.0),
                                 budgets={"daily_usd": 1e-6, "allow_downgrade": False}))

    got = ask_sse(server.client(), WARRANTY_QUESTION)

    assert got.status == 402 and got.error is not None
    error = got.error["error"]
    assert error["code"] == "budget_exceeded"
    assert error["details"]["budget_usd"] == 1e-6
    assert {"spent_usd", "remaining_usd", "requested_usd"} <= error["details"].keys()
    assert error["details"]["remaining_usd"] < error["details"]["requested_usd"]
    assert scripted_openai.requests == []


def test_without_keys_the_extractive_default_answers_with_citations(start: Any) -> None:
    server = start(load_config(None, {}))  # a fresh install: no key, no config file

    got = ask_sse(server.client(), WARRANTY_QUESTION)

    meta = got.first("meta")
    assert meta["provider"] == "extractive" and meta["extractive"] is True
    assert got.names[-1] == "done" and "[1]" in got.text and "two years" in got.text
    assert got.first("usage")["cost_usd"] == 0


def test_stream_false_returns_the_same_content_as_one_json_object(
        scripted: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.text(REPLY, usage=(100, 9)))

    response = scripted.client().post("/v1/ask", json={"question": WARRANTY_QUESTION,
                                                      "top_k": 2, "stream": False})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["answer"] == REPLY and body["error"] is None
    assert body["meta"]["provider"] == "scripted" and body["finish_reason"] == "stop"
    assert [s["n"] for s in body["sources"]] == [1, 2]
    assert (body["usage"]["input_tokens"], body["usage"]["output_tokens"]) == (100, 9)


def test_a_client_disconnect_cancels_the_provider_call(
        scripted: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    slow = " ".join(f"word{i}" for i in range(200))  # 200 pieces at 50 ms: 10 s to finish
    scripted_openai.script(so.text(slow, chunk_delay_s=0.05))
    ledger = Ledger(scripted.container.engine)

    with connect_sse(scripted.client(), "POST", "/v1/ask",
                     json={"question": WARRANTY_QUESTION}) as source:
        for sse in source.iter_sse():
            if sse.event == "meta":
                request_id = sse.json()["request_id"]
            if sse.event == "token":
                break  # leaving the block closes the connection mid-answer
    hung_up = time.monotonic()
    outcomes: list[str] = []
    while time.monotonic() - hung_up < 20 and not outcomes:
        outcomes = [r.outcome for r in ledger.calls_sync(request_id=request_id)]
        # (no row yet: the request has not been torn down, or the reply is still running)
        time.sleep(0.05)

    # Booked as cancelled, long before the 10 s reply would have ended (and been booked "ok").
    assert outcomes == ["cancelled"]
    # And the provider call itself was stopped: its connection is closed, so the provider sends
    # nothing more (on an open connection it would write a piece every 50 ms, read or not).
    provider = scripted_openai.last_request
    time.sleep(0.3)
    sent = provider.chunks_sent
    time.sleep(0.5)
    assert provider.chunks_sent == sent < 200


def test_lectern_ask_streams_the_answer_then_lists_the_sources(
        scripted: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.text(REPLY))

    result = CliRunner().invoke(cli, ["ask", WARRANTY_QUESTION, "--url", scripted.url,
                                      "--api-key", scripted.keys["alpha"], "--top-k", "2"])

    assert result.exit_code == 0, result.output
    assert REPLY in result.stdout
    assert "[1] warranty.md, p. 1 — Support > Warranty" in result.stdout
    assert result.stdout.index(REPLY) < result.stdout.index("[1] warranty.md")


def test_lectern_ask_reports_a_refusal_and_exits_1(start: Any,
                                                   scripted_openai: ScriptedOpenAI,
                                                   ) -> None:
    server = start(openai_config(scripted_openai, ("scripted", "scripted-model", 1.0),
                                 budgets={"daily_usd": 1e-6, "allow_downgrade": False}))

    result = CliRunner().invoke(cli, ["ask", WARRANTY_QUESTION, "--url", server.url,
                                      "--api-key", server.keys["alpha"]])

    assert result.exit_code == 1 and "budget_exceeded" in result.output
