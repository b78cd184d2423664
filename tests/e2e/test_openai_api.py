"""The OpenAI-compatible API through the real `openai` SDK, against a running lectern.

Real uvicorn on a socket, PostgreSQL with the seeded answer corpus, the real embedder; the
models are the scripted OpenAI-protocol server (`primary-model`, the cheaper, and
`backup-model`, both tier mid). RAG models answer over the corpus with citations and
sources; gateway models pass the messages through the cost router (fallback, ledger).
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import openai
import pytest

from ingest.embedding import Embedder
from pipelines.llm import Ledger
from tests.support import scripted_openai as so
from tests.support.answer_corpus import REVENUE_QUESTION, WARRANTY_QUESTION
from tests.support.ask import AskServer, openai_config
from tests.support.scripted_openai import ScriptedOpenAI

REPLY = "The Lectern 3000 projector has a two-year warranty [1]."
CHAT = [{"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello in French."}]


@pytest.fixture
def server(start: Any, scripted_openai: ScriptedOpenAI) -> AskServer:
    """lectern with two OpenAI-protocol models on the scripted server."""
    running: AskServer = start(openai_config(scripted_openai, ("primary", "primary-model", 0.5),
                                             ("backup", "backup-model", 3.0)))
    return running


def sdk(server: AskServer, tenant: str = "alpha", key: str | None = None) -> openai.OpenAI:
    """The OpenAI SDK pointed at lectern, acting as `tenant` (or with `key`)."""
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key or server.keys[tenant],
                         max_retries=0)


def ledger_rows(server: AskServer, completion_id: str) -> list[tuple[str, str, str]]:
    """(provider, task, outcome) of the ledger rows booked for a completion."""
    rows = Ledger(server.container.engine).calls_sync(
        request_id=completion_id.removeprefix("chatcmpl-"))
    return [(r.provider, r.task, r.outcome) for r in rows]


def test_a_rag_model_answers_with_citations_and_sources(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.text(REPLY, usage=(321, 12)))

    got = sdk(server).chat.completions.create(
        model="lectern-rag", messages=[{"role": "user", "content": WARRANTY_QUESTION}])

    choice = got.choices[0]
    assert choice.message.content == REPLY and choice.finish_reason == "stop"
    assert got.object == "chat.completion" and got.model == "lectern-rag"
    assert got.usage is not None and (got.usage.prompt_tokens, got.usage.completion_tokens,
                                      got.usage.total_tokens) == (321, 12, 333)
    sources = (choice.message.model_extra or {})["sources"]
    assert sources[0]["n"] == 1 and sources[0]["filename"] == "warranty.md"
    prompt = scripted_openai.last_request.body["messages"][-1]["content"]
    assert "[1] warranty.md, p. 1 — Support > Warranty" in prompt and WARRANTY_QUESTION in prompt
    assert ledger_rows(server, got.id) == [("primary", "answer", "ok")]


def test_a_rag_model_streams_chunks_with_the_sources_on_the_last(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.text(REPLY, usage=(300, 10)))

    chunks = list(sdk(server).chat.completions.create(
        model="lectern-rag", messages=[{"role": "user", "content": WARRANTY_QUESTION}],
        stream=True, stream_options={"include_usage": True}))

    assert {c.object for c in chunks} == {"chat.completion.chunk"} and len(chunks) > 4
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    last_choice, usage = chunks[-2], chunks[-1]
    assert last_choice.choices[0].finish_reason == "stop"
    assert (last_choice.model_extra or {})["sources"][0]["filename"] == "warranty.md"
    assert usage.choices == [] and usage.usage is not None
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens) == (300, 10)
    assert all(c.usage is None for c in chunks[:-1])


def test_earlier_turns_are_history_and_a_collection_model_searches_only_it(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.text("What was the revenue in 2022?"),
                           so.text("Revenue was 3.75 million euros in 2022 [1]."))
    messages = [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": REVENUE_QUESTION},
                {"role": "assistant", "content": "Revenue grew to 4.2 million euros [1]."},
                {"role": "user", "content": [{"type": "text", "text": "And in 2022?"}]}]

    got = sdk(server).chat.completions.create(model="lectern-rag/finance", messages=messages)

    assert got.choices[0].message.content == "Revenue was 3.75 million euros in 2022 [1]."
    condense, answer = scripted_openai.requests
    condense_prompt = condense.body["messages"][-1]["content"]
    assert REVENUE_QUESTION in condense_prompt and "And in 2022?" in condense_prompt
    assert "What was the revenue in 2022?" in answer.body["messages"][-1]["content"]
    filenames = [s["filename"] for s in (got.choices[0].message.model_extra or {})["sources"]]
    assert filenames[0] == "revenue-2022.md"
    assert set(filenames) <= {"revenue-2022.md", "revenue-2023.md"}  # the collection's only


def test_a_tier_alias_fails_over_on_a_500_and_books_the_ledger(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.error(500), model="primary-model")
    scripted_openai.script(so.text("Bonjour !", usage=(9, 3)), model="backup-model")

    got = sdk(server).chat.completions.create(model="tier:mid", messages=CHAT,
                                              temperature=0.2, max_tokens=50)

    assert got.choices[0].message.content == "Bonjour !" and got.model == "backup-model"
    assert got.usage is not None and got.usage.completion_tokens == 3
    assert [r.body["model"] for r in scripted_openai.requests] == ["primary-model",
                                                                    "backup-model"]
    sent = scripted_openai.last_request.body
    assert sent["messages"] == CHAT and sent["temperature"] == 0.2 and sent["max_tokens"] == 50
    assert ledger_rows(server, got.id) == [("primary", "chat", "fallback"),
                                           ("backup", "chat", "ok")]


def test_a_model_id_streams_and_falls_back_to_its_tier(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.error(503), model="backup-model")
    scripted_openai.script(so.text("Bonjour tout le monde !"), model="primary-model")

    chunks = list(sdk(server).chat.completions.create(model="backup-model", messages=CHAT,
                                                      stream=True))

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == (
        "Bonjour tout le monde !")
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage is None
    assert {c.model for c in chunks} == {"primary-model"}
    assert [r.body["model"] for r in scripted_openai.requests] == ["backup-model",
                                                                    "primary-model"]
    assert ledger_rows(server, chunks[0].id) == [("backup", "chat", "error"),
                                                 ("primary", "chat", "ok")]


def test_a_json_schema_response_format_reaches_the_provider(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    schema = {"type": "object", "properties": {"greeting": {"type": "string"}},
              "required": ["greeting"], "additionalProperties": False}
    scripted_openai.script(so.structured({"greeting": "Bonjour"}))

    got = sdk(server).chat.completions.create(
        model="primary-model", messages=CHAT,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "hello", "schema": schema}})

    assert got.choices[0].message.content == '{"greeting": "Bonjour"}'
    sent = scripted_openai.last_request.body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == schema
    assert sent["json_schema"]["name"] == "hello"


def test_models_lists_rag_gateway_tier_and_embedding_models(server: AskServer) -> None:
    ids = [m.id for m in sdk(server).models.list()]

    assert ids[:3] == ["lectern-rag", "lectern-rag/finance", "lectern-rag/handbook"]
    assert {"primary-model", "backup-model", "tier:free", "tier:mid",
            "lectern-embedding"} <= set(ids)
    assert "tier:premium" not in ids  # no model serves it
    assert sdk(server).models.retrieve("tier:mid").owned_by == "lectern"
    assert [m.id for m in sdk(server, "beta").models.list()][:2] == ["lectern-rag",
                                                                   "lectern-rag/handbook"]


def test_embeddings_are_the_embedders_vectors(server: AskServer, embedder: Embedder) -> None:
    texts = ["The projector has a warranty.", "Revenue grew in 2023."]
    expected = embedder.embed(texts)

    as_base64 = sdk(server).embeddings.create(model="lectern-embedding", input=texts)
    as_float = sdk(server).embeddings.create(model="lectern-embedding", input=texts[0],
                                             encoding_format="float")

    assert [d.index for d in as_base64.data] == [0, 1]
    for got, want in zip(as_base64.data, expected, strict=True):
        assert len(got.embedding) == 384
        assert got.embedding == pytest.approx(want, abs=1e-6)  # float32 on the wire
    assert as_float.data[0].embedding == expected[0]
    assert as_base64.usage.prompt_tokens == sum(embedder.count_tokens(t) for t in texts)
    with pytest.raises(openai.BadRequestError) as too_long:
        sdk(server).embeddings.create(model="lectern-embedding",
                                      input=["short", "word " * 300])
    body = too_long.value.response.json()["error"]
    assert (body["type"], body["param"], body["code"]) == (
        "invalid_request_error", "input.1", "context_length_exceeded")
    assert "input.1" in body["message"]


def error_of(call: Any) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the error `call()` raised."""
    with pytest.raises(openai.APIStatusError) as raised:
        call()
    return raised.value.status_code, raised.value.response.json()


def test_errors_take_openais_shape_on_these_routes_only(server: AskServer) -> None:
    def unknown() -> Any:
        return sdk(server).chat.completions.create(model="gpt-9", messages=CHAT)

    def bad_key() -> Any:
        return sdk(server, key="lk_wrong").chat.completions.create(model="tier:mid",
                                                                  messages=CHAT)

    def tools() -> Any:
        return sdk(server).chat.completions.create(
            model="lectern-rag", messages=CHAT,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])

    def bad_body() -> Any:
        return sdk(server).chat.completions.create(model="tier:mid", messages=[])

    status, body = error_of(unknown)
    assert status == 404 and set(body["error"]) == {"message", "type", "param", "code"}
    assert (body["error"]["type"], body["error"]["param"], body["error"]["code"]) == (
        "invalid_request_error", "model", "model_not_found")
    status, body = error_of(bad_key)
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert error_of(tools)[1]["error"]["param"] == "tools"
    status, body = error_of(bad_body)
    assert status == 400 and body["error"]["param"] == "messages"
    with contextlib.closing(httpx.Client(base_url=server.url)) as client:
        elsewhere = client.post("/v1/ask", json={"question": "x"},
                                headers={"Authorization": "Bearer lk_wrong"})
    assert elsewhere.status_code == 401 and "details" in elsewhere.json()["error"]


def test_over_budget_is_402_in_openais_shape(start: Any, scripted_openai: ScriptedOpenAI
                                            ) -> None:
    server = start(openai_config(scripted_openai, ("primary", "primary-model", 0.5),
                                 budgets={"daily_usd": 0.0, "allow_downgrade": False}))

    status, body = error_of(lambda: sdk(server).chat.completions.create(
        model="primary-model", messages=CHAT))

    assert status == 402 and body["error"]["type"] == "insufficient_quota"
    assert body["error"]["code"] == "budget_exceeded" and scripted_openai.requests == []


def test_the_stream_is_data_lines_ending_with_done(server: AskServer) -> None:
    with server.client().stream("POST", "/v1/chat/completions",
                                json={"model": "tier:mid", "messages": CHAT,
                                      "stream": True}) as response:
        lines = [line for line in response.iter_lines() if line]

    assert response.headers["content-type"].startswith("text/event-stream")
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"


def test_a_stream_broken_after_text_ends_with_an_error_object(
        start: Any, scripted_openai: ScriptedOpenAI) -> None:
    server = start(openai_config(scripted_openai, ("primary", "primary-model", 0.5),
                                 router={"mid_stream": "error"}))
    scripted_openai.script(so.disconnect(after_chunks=2, content="Bonjour tout le monde"))

    got: list[str] = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in sdk(server).chat.completions.create(model="primary-model",
                                                         messages=CHAT, stream=True):
            got.append(chunk.choices[0].delta.content or "")

    assert "".join(got) == "Bonjour tout"
    assert raised.value.body["type"] == "server_error"  # type: ignore[index]
    assert raised.value.body["code"] == "provider_error"  # type: ignore[index]


def test_the_answer_cache_serves_a_repeated_request_at_temperature_0(
        start: Any, scripted_openai: ScriptedOpenAI) -> None:
    server = start(openai_config(scripted_openai, ("primary", "primary-model", 0.5),
                                 cache=True))
    scripted_openai.script(so.text("Bonjour !"))
    client = sdk(server)

    first, again = (client.chat.completions.create(model="primary-model", messages=CHAT,
                                                   temperature=0) for _ in range(2))
    warmer = client.chat.completions.create(model="primary-model", messages=CHAT,
                                            temperature=0.7)

    assert first.choices[0].message.content == again.choices[0].message.content == "Bonjour !"
    assert len(scripted_openai.requests) == 2  # the repeat came from the cache; 0.7 did not
    assert warmer.choices[0].message.content == "This is the scripted default reply."
    rows = Ledger(server.container.engine).calls_sync(request_id=again.id[len("chatcmpl-"):])
    assert [(r.outcome, r.cached) for r in rows] == [("ok", True)]
