"""The OpenAI-protocol adapter with tools, tool messages, `stop` and JSON mode, through the
real `openai` SDK against the scripted server (and the one that rejects `response_format`)."""

from __future__ import annotations

import pytest

from pipelines.llm.errors import ProviderError
from pipelines.llm.providers.openai_compat import OpenAICompatProvider
from pipelines.llm.types import (
    ChatRequest,
    Message,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolUse,
)
from tests.support import scripted_openai as so
from tests.support.scripted_llamacpp import rejecting_openai_server
from tests.support.scripted_openai import ScriptedOpenAI

TOOLS = ToolUse(({"type": "function", "function": {"name": "lookup", "parameters": {}}},),
                {"type": "function", "function": {"name": "lookup"}}, True)
CHAT = (Message("system", "Be terse."), Message("user", "Look it up, as JSON."))


def adapter(base_url: str, **options: object) -> OpenAICompatProvider:
    return OpenAICompatProvider("compat", base_url=base_url, api_key="k", timeout_s=5.0,
                                **options)


async def test_tool_calls_whole_and_streamed(scripted_openai: ScriptedOpenAI) -> None:
    chat = adapter(scripted_openai.base_url)
    scripted_openai.script(so.tool_calls(("lookup", '{"q": "x"}'), usage=(5, 3)),
                           so.tool_calls(("lookup", '{"q": "x y"}'), ids=("call_z",)))
    request = ChatRequest(CHAT, "scripted-model", tools=TOOLS, stop=("END", "STOP"))

    whole = await chat.complete(request)
    items = [item async for item in chat.stream(request)]

    assert whole.tool_calls == (ToolCall("call_1", "lookup", '{"q": "x"}'),)
    assert whole.text == "" and whole.finish_reason == "tool_calls"
    assert (whole.usage.input_tokens, whole.usage.output_tokens) == (5, 3)
    deltas = [i for i in items if isinstance(i, ToolCallDelta)]
    assert deltas == [ToolCallDelta(0, "call_z", "lookup", ""),
                      ToolCallDelta(0, arguments='{"q":'), ToolCallDelta(0, arguments=' "x'),
                      ToolCallDelta(0, arguments=' y"}')]
    assert not [i for i in items if isinstance(i, TextDelta)]
    end = items[-1]
    assert isinstance(end, StreamEnd) and end.finish_reason == "tool_calls"
    for recorded in scripted_openai.requests:
        body = recorded.body
        assert body["tools"] == list(TOOLS.tools) and body["tool_choice"] == TOOLS.tool_choice
        assert body["parallel_tool_calls"] is True and body["stop"] == ["END", "STOP"]
    assert chat.capabilities("m").tools and chat.capabilities("m").stop


async def test_tool_messages_go_out_in_openais_shape(scripted_openai: ScriptedOpenAI) -> None:
    chat = adapter(scripted_openai.base_url)
    messages = (*CHAT, Message("assistant", "", (ToolCall("c1", "lookup", "{}"),)),
                Message("tool", "found", tool_call_id="c1"))

    await chat.complete(ChatRequest(messages, "scripted-model", tools=TOOLS))

    sent = scripted_openai.last_request.body["messages"]
    assert sent[:2] == [{"role": "system", "content": "Be terse."},
                        {"role": "user", "content": "Look it up, as JSON."}]
    assert sent[2] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]}
    assert sent[3] == {"role": "tool", "content": "found", "tool_call_id": "c1"}


async def test_declared_without_tools_or_stop(scripted_openai: ScriptedOpenAI) -> None:
    caps = adapter(scripted_openai.base_url, tools=False, stop=False).capabilities("m")
    assert not caps.tools and not caps.stop


async def test_json_mode_on_a_json_schema_model_sends_json_object(
        scripted_openai: ScriptedOpenAI) -> None:
    chat = adapter(scripted_openai.base_url)  # structured_mode json_schema
    scripted_openai.script(so.text('{"a": 1}'))

    reply = await chat.complete(ChatRequest(CHAT, "scripted-model", json_object=True))

    body = scripted_openai.last_request.body
    assert body["response_format"] == {"type": "json_object"} and reply.structured == "json_object"
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}  # as sent


async def test_json_mode_rejected_steps_down_to_the_instruction() -> None:
    with rejecting_openai_server(rejected=frozenset({"json_schema", "json_object"})) as server:
        chat = adapter(server.base_url, structured_mode="json_object")
        reply = await chat.complete(ChatRequest(CHAT, "scripted-model", json_object=True))
        system = server.last_request.body["messages"][0]["content"]
        assert "response_format" not in server.last_request.body

    assert reply.structured == "none" and server.rejections == ["json_object"]
    assert system.startswith("Be terse.") and "one JSON object" in system


async def test_a_refused_tool_request_is_a_provider_error(scripted_openai: ScriptedOpenAI
                                                          ) -> None:
    chat = adapter(scripted_openai.base_url)
    scripted_openai.script(so.error(400, "tools are not supported by this model"))

    with pytest.raises(ProviderError) as raised:
        await chat.complete(ChatRequest(CHAT, "scripted-model", tools=TOOLS))

    assert not raised.value.retryable
