"""Follow-up questions over real HTTP: inline `history`, stored conversations per tenant, the
condensed question in `meta`, and `lectern ask --conversation`.

Offline (the extractive answerer only) the follow-up is rewritten by the heuristic; with a
chat model (the scripted OpenAI-protocol server through the real SDK) by the `condense` task.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from typer.testing import CliRunner

from app.cli.main import cli
from pipelines.llm import load_config
from tests.support import scripted_openai as so
from tests.support.answer_corpus import REVENUE_QUESTION
from tests.support.ask import AskServer, ask_sse, openai_config
from tests.support.scripted_openai import ScriptedOpenAI

FOLLOW_UP = "And in 2022?"
EARLIER = [{"question": REVENUE_QUESTION,
            "answer": "Revenue grew to 4.2 million euros in 2023 [1]."}]


def _offline(start: Any) -> AskServer:
    server: AskServer = start(load_config(None, {}))
    return server


def test_a_follow_up_is_answered_with_the_previous_turn(start: Any) -> None:
    client = _offline(start).client()

    alone = ask_sse(client, "What drove it?")
    followed = ask_sse(client, "What drove it?", history=EARLIER)

    assert alone.status == 200 and followed.status == 200, followed.error
    assert "subscriptions" not in alone.text  # alone, "it" is nothing in particular
    meta = followed.first("meta")
    assert (meta["query"], meta["query_rewrite"]) == ("What drove it? (revenue 2023)",
                                                      "heuristic")
    assert meta["conversation_id"] is None
    assert "revenue-2023.md" in [s["filename"] for s in followed.first("sources")[:2]]
    assert "subscriptions" in followed.text


def test_a_chat_model_condenses_the_follow_up(start: Any,
                                             scripted_openai: ScriptedOpenAI) -> None:
    server = start(openai_config(scripted_openai, ("scripted", "scripted-model", 1.0)))
    scripted_openai.script(so.text("What was the revenue in 2022?"),
                           so.text("Revenue was 3.75 million euros in 2022 [1]."))

    got = ask_sse(server.client(), FOLLOW_UP, history=EARLIER)

    assert got.status == 200 and got.names[-1] == "done", got.error
    meta = got.first("meta")
    assert (meta["query"], meta["query_rewrite"]) == ("What was the revenue in 2022?", "llm")
    condense, answer = scripted_openai.requests
    condense_prompt = condense.body["messages"][-1]["content"]
    assert REVENUE_QUESTION in condense_prompt and FOLLOW_UP in condense_prompt
    assert "What was the revenue in 2022?" in answer.body["messages"][-1]["content"]
    assert got.first("sources")[0]["filename"] == "revenue-2022.md"


def test_a_stored_conversation_keeps_its_turns_for_its_tenant_only(start: Any) -> None:
    server = _offline(start)
    alpha, beta = server.client("alpha"), server.client("beta")
    created = alpha.post("/v1/conversations", json={})
    assert created.status_code == 201, created.text
    conversation_id = created.json()["id"]

    first = ask_sse(alpha, REVENUE_QUESTION, conversation_id=conversation_id)
    second = ask_sse(alpha, FOLLOW_UP, conversation_id=conversation_id)

    assert first.names[-1] == second.names[-1] == "done"
    assert second.first("meta")["conversation_id"] == conversation_id
    assert second.first("meta")["query"] == "And in 2022? (revenue)"
    thread = alpha.get(f"/v1/conversations/{conversation_id}").json()
    assert (thread["title"], thread["turn_count"]) == (REVENUE_QUESTION, 2)
    turns = thread["turns"]
    assert [(t["ordinal"], t["question"], t["query"]) for t in turns] == [
        (0, REVENUE_QUESTION, REVENUE_QUESTION), (1, FOLLOW_UP, "And in 2022? (revenue)")]
    assert turns[1]["answer"] == second.text
    assert turns[1]["sources"][0]["filename"] == "revenue-2022.md"
    listed = alpha.get("/v1/conversations").json()
    assert conversation_id in [c["id"] for c in listed["items"]]

    assert beta.get(f"/v1/conversations/{conversation_id}").status_code == 404
    assert ask_sse(beta, FOLLOW_UP, conversation_id=conversation_id).status == 404
    assert conversation_id not in [c["id"] for c in beta.get("/v1/conversations").json()["items"]]
    assert beta.delete(f"/v1/conversations/{conversation_id}").status_code == 404

    assert alpha.delete(f"/v1/conversations/{conversation_id}").status_code == 204
    gone = alpha.get(f"/v1/conversations/{conversation_id}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "conversation_not_found")


def test_history_and_a_conversation_are_exclusive_and_bounded(start: Any) -> None:
    client = _offline(start).client()
    both = client.post("/v1/ask", json={"question": FOLLOW_UP, "history": EARLIER,
                                        "conversation_id": str(uuid.uuid4())})
    assert both.status_code == 422 and "not both" in both.json()["error"]["message"]
    too_long = client.post("/v1/ask", json={"question": FOLLOW_UP, "history": EARLIER * 21})
    assert too_long.status_code == 422
    unknown = client.post("/v1/ask", json={"question": FOLLOW_UP,
                                           "conversation_id": str(uuid.uuid4())})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (
        404, "conversation_not_found")


def test_lectern_ask_starts_and_continues_a_conversation(start: Any) -> None:
    server = _offline(start)
    options = ["--url", server.url, "--api-key", server.keys["alpha"]]

    first = CliRunner().invoke(cli, ["ask", REVENUE_QUESTION, "--conversation", "new", *options])

    assert first.exit_code == 0, first.output
    conversation_id = first.stderr.split("conversation ")[1].split()[0]
    second = CliRunner().invoke(cli, ["ask", FOLLOW_UP, "--conversation", conversation_id,
                                      *options])
    assert second.exit_code == 0, second.output
    assert "searched for: And in 2022? (revenue)" in second.stderr
    assert "3.75 million" in second.stdout
    with httpx.Client(base_url=server.url,
                      headers={"Authorization": f"Bearer {server.keys['alpha']}"}) as client:
        assert client.get(f"/v1/conversations/{conversation_id}").json()["turn_count"] == 2
