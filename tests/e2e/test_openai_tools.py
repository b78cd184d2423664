"""Tools, `stop` and JSON mode through the OpenAI-compatible API, with the real `openai` SDK.

A running lectern (real uvicorn on a socket, PostgreSQL, the real embedder) in front of the
scripted OpenAI-protocol server: gateway models pass `tools`, `tool_choice`,
`parallel_tool_calls`, tool messages, `stop` and `response_format: json_object` on to the
provider and return its tool calls whole and streamed; RAG models refuse tools; a model whose
provider cannot do tools is not a candidate for a request with them.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from pipelines.llm import Ledger, LLMConfig, parse_config
from tests.e2e.test_openai_api import CHAT, error_of, ledger_rows, sdk
from tests.support import scripted_openai as so
from tests.support.ask import AskServer, openai_config
from tests.support.scripted_openai import ScriptedOpenAI

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "parameters": {"type": "object", "properties": {}}}}
PARIS = '{"city": "Paris", "unit": "celsius"}'


@pytest.fixture
def server(start: Any, scripted_openai: ScriptedOpenAI) -> AskServer:
    """lectern with two OpenAI-protocol models (tier mid) on the scripted server."""
    running: AskServer = start(openai_config(scripted_openai, ("primary", "primary-model", 0.5),
                                             ("backup", "backup-model", 3.0)))
    return running


def capability_config(server: ScriptedOpenAI, *models: tuple[str, str, float, bool],
                      **sections: Any) -> LLMConfig:
    """Like `openai_config`, with each provider's `tools` and `stop` option given."""
    raw: dict[str, Any] = {
        "providers": {name: {"kind": "openai", "base_url": server.base_url, "api_key": "k",
                             "timeout_s": 5, "options": {"tools": able, "stop": able}}
                      for name, _, _, able in models},
        "models": [{"id": model, "provider": name, "tier": "mid", "price_in_per_mtok": price,
                    "price_out_per_mtok": 2 * price, "context_tokens": 8192,
                    "max_output_tokens": 256} for name, model, price, _ in models],
        "cache": {"enabled": False}, **sections}
    return parse_config(raw, {})


def test_a_gateway_model_returns_the_providers_tool_calls(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.tool_calls(("get_weather", PARIS), usage=(40, 9)))

    got = sdk(server).chat.completions.create(
        model="primary-model", messages=CHAT, tools=[WEATHER, TIME], tool_choice="auto",
        parallel_tool_calls=False)

    choice = got.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls is not None and len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id == "call_1"
    assert (call.function.name, call.function.arguments) == ("get_weather", PARIS)
    sent = scripted_openai.last_request.body
    assert sent["tools"] == [WEATHER, TIME] and sent["tool_choice"] == "auto"
    assert sent["parallel_tool_calls"] is False and sent["messages"] == CHAT
    assert got.usage is not None and (got.usage.prompt_tokens,
                                      got.usage.completion_tokens) == (40, 9)
    assert ledger_rows(server, got.id) == [("primary", "chat", "ok")]
    (row,) = Ledger(server.container.engine).calls_sync(
        request_id=got.id.removeprefix("chatcmpl-"))
    assert (row.input_tokens, row.output_tokens) == (40, 9) and row.cost_usd > 0


def test_streamed_tool_calls_arrive_as_deltas_in_order(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.tool_calls(("get_weather", PARIS), ("get_time", "{}"),
                                         usage=(30, 8)))

    chunks = list(sdk(server).chat.completions.create(
        model="tier:mid", messages=CHAT, tools=[WEATHER, TIME], stream=True,
        stream_options={"include_usage": True}))

    deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
    calls: dict[int, dict[str, str]] = {}
    for d in deltas:
        call = calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
        call["id"] += d.id or ""
        assert d.function is not None
        call["name"] += d.function.name or ""
        call["arguments"] += d.function.arguments or ""
    assert calls == {0: {"id": "call_1", "name": "get_weather", "arguments": PARIS},
                     1: {"id": "call_2", "name": "get_time", "arguments": "{}"}}
    pieces = [d.function.arguments for d in deltas if d.index == 0 and d.function is not None]
    assert pieces == ["", '{"city":', ' "Paris",', ' "unit":', ' "celsius"}']  # as sent
    assert [d.index for d in deltas] == [0] * 5 + [1, 1]
    last, usage = chunks[-2], chunks[-1]
    assert last.choices[0].finish_reason == "tool_calls"
    assert usage.usage is not None and usage.usage.completion_tokens == 8
    assert ledger_rows(server, chunks[0].id) == [("primary", "chat", "ok")]


def test_a_tool_result_follow_up_reaches_the_provider_intact(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.text("It is 18 degrees in Paris."))
    assistant = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc", "type": "function",
         "function": {"name": "get_weather", "arguments": PARIS}}]}
    result = {"role": "tool", "tool_call_id": "call_abc", "content": '{"celsius": 18}'}
    choice = {"type": "function", "function": {"name": "get_weather"}}

    got = sdk(server).chat.completions.create(
        model="primary-model", messages=[*CHAT, assistant, result],
        tools=[WEATHER], tool_choice=choice, stop=["\n\n", "END"])

    assert got.choices[0].message.content == "It is 18 degrees in Paris."
    assert got.choices[0].finish_reason == "stop" and got.choices[0].message.tool_calls is None
    sent = scripted_openai.last_request.body
    assert sent["messages"] == [*CHAT, assistant, result]
    assert sent["tools"] == [WEATHER] and sent["tool_choice"] == choice
    assert sent["stop"] == ["\n\n", "END"] and "parallel_tool_calls" not in sent


def test_stop_and_json_mode_reach_the_provider(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.script(so.text("Bonjour"), so.text('{"greeting": "Bonjour"}'))
    json_chat = [*CHAT[:1], {"role": "user", "content": "Say hello in French, as JSON."}]
    client = sdk(server)

    stopped = client.chat.completions.create(model="primary-model", messages=CHAT, stop="END")
    as_json = client.chat.completions.create(model="tier:mid", messages=json_chat,
                                             response_format={"type": "json_object"})

    assert stopped.choices[0].message.content == "Bonjour"
    first, second = (r.body for r in scripted_openai.requests)
    assert first["stop"] == ["END"] and "tools" not in first and "response_format" not in first
    assert json.loads(as_json.choices[0].message.content or "") == {"greeting": "Bonjour"}
    assert second["response_format"] == {"type": "json_object"}
    assert second["messages"] == json_chat and "stop" not in second  # passed through as sent


def test_rag_models_refuse_tools_tool_messages_and_stop(
        server: AskServer, scripted_openai: ScriptedOpenAI) -> None:
    client = sdk(server)
    question = [{"role": "user", "content": "What is the warranty?"}]
    tool_turn = [*question, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]

    status, body = error_of(lambda: client.chat.completions.create(
        model="lectern-rag", messages=question, tools=[WEATHER]))
    assert status == 400 and body["error"]["param"] == "tools"
    assert body["error"]["code"] == "unsupported_parameter"
    assert "tools" in body["error"]["message"] and "RAG" in body["error"]["message"]
    assert error_of(lambda: client.chat.completions.create(
        model="lectern-rag/finance", messages=tool_turn))[1]["error"]["param"] == (
        "messages.1")
    assert error_of(lambda: client.chat.completions.create(
        model="lectern-rag", messages=question, stop="END"))[1]["error"]["param"] == "stop"
    assert scripted_openai.requests == []


def test_models_without_tools_are_skipped_and_none_left_is_a_400(
        start: Any, scripted_openai: ScriptedOpenAI) -> None:
    mixed = start(capability_config(scripted_openai, ("primary", "primary-model", 0.5, False),
                                    ("backup", "backup-model", 3.0, True)))
    scripted_openai.script(so.tool_calls(("get_weather", PARIS)))

    got = sdk(mixed).chat.completions.create(model="primary-model", messages=CHAT,
                                             tools=[WEATHER])

    assert got.model == "backup-model" and got.choices[0].finish_reason == "tool_calls"
    assert [r.body["model"] for r in scripted_openai.requests] == ["backup-model"]
    plain = sdk(mixed).chat.completions.create(model="tier:mid", messages=CHAT)
    assert plain.model == "primary-model"  # the cheaper one, for a call without tools
    none = start(capability_config(scripted_openai, ("primary", "primary-model", 0.5, False)))
    scripted_openai.reset()
    status, body = error_of(lambda: sdk(none).chat.completions.create(
        model="tier:mid", messages=CHAT, tools=[WEATHER]))
    assert status == 400 and body["error"]["code"] == "tools_unsupported"
    assert body["error"]["param"] == "tools" and "tool calling" in body["error"]["message"]
    status, body = error_of(lambda: sdk(none).chat.completions.create(
        model="primary-model", messages=CHAT, stop=["END"]))
    assert (status, body["error"]["code"], body["error"]["param"]) == (
        400, "stop_unsupported", "stop")
    assert scripted_openai.requests == []


def test_tool_requests_bypass_the_answer_cache(
        start: Any, scripted_openai: ScriptedOpenAI) -> None:
    server = start(openai_config(scripted_openai, ("primary", "primary-model", 0.5),
                                 cache=True))
    scripted_openai.script(so.text("No tool needed."), so.tool_calls(("get_weather", PARIS)))
    client = sdk(server)

    plain = client.chat.completions.create(model="primary-model", messages=CHAT, temperature=0)
    with_tools = client.chat.completions.create(model="primary-model", messages=CHAT,
                                                temperature=0, tools=[WEATHER])
    again = client.chat.completions.create(model="primary-model", messages=CHAT,
                                           temperature=0)

    assert plain.choices[0].message.content == again.choices[0].message.content
    assert with_tools.choices[0].message.tool_calls is not None  # not the cached text reply
    assert len(scripted_openai.requests) == 2  # only the repeat without tools was cached
    assert ledger_rows(server, with_tools.id) == [("primary", "chat", "ok")]


def test_honest_refusals_read_right(server: AskServer) -> None:
    client = sdk(server)

    status, body = error_of(lambda: client.chat.completions.create(
        model="tier:mid", messages=CHAT, n=2))
    assert (status, body["error"]["param"]) == (400, "n")
    assert body["error"]["message"] == "n: lectern returns one choice per request"
    status, body = error_of(lambda: client.chat.completions.create(
        model="tier:mid", messages=CHAT, logprobs=True))
    assert body["error"]["message"] == "logprobs: lectern's providers return no log probabilities"
    status, body = error_of(lambda: client.chat.completions.create(
        model="tier:mid", messages=CHAT, functions=[WEATHER["function"]]))
    assert body["error"]["param"] == "functions" and "tools" in body["error"]["message"]
    status, body = error_of(lambda: client.chat.completions.create(
        model="tier:mid", messages=CHAT, tools=[{"type": "custom", "custom": {"name": "x"}}]))
    assert (status, body["error"]["param"]) == (400, "tools.0")
    with pytest.raises(openai.BadRequestError) as no_id:
        client.chat.completions.create(model="tier:mid", messages=[
            *CHAT, {"role": "tool", "content": "18"}])
    assert "tool_call_id" in str(no_id.value)
