"""OpenAICompatProvider through the real `openai` SDK against the scripted server on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from pipelines.llm.errors import ProviderError
from pipelines.llm.providers.openai_compat import OpenAICompatProvider, azure_provider
from pipelines.llm.tokens import count_tokens
from pipelines.llm.types import ChatRequest, Message, StreamEnd, TextDelta
from tests.support import scripted_openai as so
from tests.support.scripted_openai import ScriptedOpenAI

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
    "required": ["title", "year"],
    "additionalProperties": False,
}


def request(**overrides: Any) -> ChatRequest:
    fields: dict[str, Any] = {
        "messages": (Message("system", "Answer from the sources."),
                     Message("user", "Question: what is the answer?")),
        "model": "scripted-model",
    }
    return ChatRequest(**{**fields, **overrides})


async def drain(provider: OpenAICompatProvider, req: ChatRequest
                ) -> tuple[list[str], StreamEnd | None, ProviderError | None]:
    """Deltas received, the StreamEnd (if any) and the ProviderError (if one was raised)."""
    deltas: list[str] = []
    end: StreamEnd | None = None
    try:
        async for item in provider.stream(req):
            if isinstance(item, TextDelta):
                deltas.append(item.text)
            else:
                assert end is None, "more than one StreamEnd"
                end = item
    except ProviderError as exc:
        return deltas, end, exc
    return deltas, end, None


@pytest.fixture
async def make(scripted_openai: ScriptedOpenAI) -> AsyncIterator[Any]:
    made: list[OpenAICompatProvider] = []

    def factory(**options: Any) -> OpenAICompatProvider:
        options.setdefault("base_url", scripted_openai.base_url)
        provider = OpenAICompatProvider("scripted", api_key="test-key", timeout_s=2.0, **options)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


async def test_stream_concatenates_to_script_text_with_server_usage(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.text("The warranty lasts two years [1].", usage=(21, 7)))
    deltas, end, err = await drain(make(), request(max_tokens=50, temperature=0.2))
    assert err is None
    assert len(deltas) > 1 and "".join(deltas) == "The warranty lasts two years [1]."
    assert end is not None and end.usage.input_tokens == 21 and end.usage.output_tokens == 7
    assert end.finish_reason == "stop"
    body = scripted_openai.last_request.body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "scripted-model" and body["max_tokens"] == 50
    assert body["temperature"] == 0.2
    assert body["messages"][1] == {"role": "user", "content": "Question: what is the answer?"}
    assert scripted_openai.last_request.headers["authorization"] == "Bearer test-key"


async def test_stream_without_server_usage_is_estimated(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.text("Seven words are in this reply text.", usage=None))
    _, end, err = await drain(make(), request())
    assert err is None and end is not None
    assert end.usage.output_tokens == count_tokens("Seven words are in this reply text.",
                                                   "scripted-model")
    assert end.usage.input_tokens > 10  # two messages with framing


async def test_complete_returns_text_usage_and_finish_reason(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.text("Paris.", usage=(9, 2), finish_reason="length"))
    completion = await make().complete(request())
    assert completion.text == "Paris."
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (9, 2)
    assert completion.finish_reason == "length"
    assert "stream" not in scripted_openai.last_request.body


@pytest.mark.parametrize("use_stream", [True, False])
async def test_http_500_is_retryable_with_status(
        scripted_openai: ScriptedOpenAI, make: Any, use_stream: bool) -> None:
    scripted_openai.script(so.error(500, "upstream exploded"))
    provider = make()
    if use_stream:
        deltas, _, err = await drain(provider, request())
        assert deltas == []
    else:
        with pytest.raises(ProviderError) as info:
            await provider.complete(request())
        err = info.value
    assert err is not None
    assert err.status == 500 and err.retryable and err.before_first_token
    assert err.provider == "scripted" and err.model == "scripted-model"


async def test_http_429_is_retryable_and_carries_retry_after(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.error(429, "slow down", retry_after=1.5))
    _, _, err = await drain(make(), request())
    assert err is not None and err.status == 429 and err.retryable
    assert err.details["retry_after_s"] == 1.5
    assert len(scripted_openai.requests) == 1  # the SDK itself did not retry


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_not_retryable(
        scripted_openai: ScriptedOpenAI, make: Any, status: int) -> None:
    scripted_openai.script(so.error(status))
    with pytest.raises(ProviderError) as info:
        await make().complete(request())
    assert info.value.status == status and not info.value.retryable


async def test_timeout_is_retryable(scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.timeout(delay_s=1.5))
    _, _, err = await drain(make(), request(timeout_s=0.3))
    assert err is not None and err.retryable and err.status is None
    assert err.details["kind"] == "timeout" and err.before_first_token


async def test_disconnect_mid_stream_is_after_first_token(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.disconnect(after_chunks=2, content="one two three four five"))
    deltas, end, err = await drain(make(), request())
    assert "".join(deltas) == "one two"
    assert end is None and err is not None
    assert err.retryable and not err.before_first_token and err.details["kind"] == "connection"


async def test_disconnect_before_any_text_allows_failover(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.disconnect(after_chunks=0))
    deltas, _, err = await drain(make(), request())
    assert deltas == [] and err is not None and err.before_first_token and err.retryable


async def test_malformed_chunk_is_a_provider_error(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.malformed(after_chunks=1, content="alpha beta gamma"))
    deltas, end, err = await drain(make(), request())
    assert deltas == ["alpha"] and end is None
    assert err is not None and err.details["kind"] == "malformed" and not err.before_first_token


async def test_malformed_non_streamed_body_is_a_provider_error(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.malformed())
    with pytest.raises(ProviderError) as info:
        await make().complete(request())
    assert info.value.details["kind"] == "malformed"


async def test_connection_refused_is_retryable(make: Any) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProviderError) as info:
        await make(base_url=f"http://127.0.0.1:{port}/v1").complete(request())
    assert info.value.retryable and info.value.details["kind"] == "connection"


async def test_json_schema_mode_sends_strict_schema(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.structured({"title": "Dune", "year": 1965}))
    completion = await make().complete(request(json_schema=SCHEMA, schema_name="book info"))
    assert json.loads(completion.text) == {"title": "Dune", "year": 1965}
    assert scripted_openai.last_request.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "book_info", "schema": SCHEMA, "strict": True},
    }


async def test_json_object_mode_puts_schema_in_system_message(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.structured({"title": "Dune", "year": 1965}))
    deltas, _, err = await drain(make(structured_mode="json_object"), request(json_schema=SCHEMA))
    assert err is None and json.loads("".join(deltas))["year"] == 1965
    body = scripted_openai.last_request.body
    assert body["response_format"] == {"type": "json_object"}
    system = body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("Answer from the sources.")
    assert '"additionalProperties": false' in system["content"]


async def test_tools_mode_streams_the_forced_call_arguments(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.structured({"title": "Emma", "year": 1815}),
                           so.structured({"title": "Emma", "year": 1815}))
    provider = make(structured_mode="tools")
    deltas, end, err = await drain(provider, request(json_schema=SCHEMA))
    assert err is None and end is not None and end.finish_reason == "tool_calls"
    assert json.loads("".join(deltas)) == {"title": "Emma", "year": 1815}
    body = scripted_openai.last_request.body
    assert body["tools"][0]["function"]["parameters"] == SCHEMA
    assert body["tool_choice"] == {"type": "function", "function": {"name": "output"}}
    assert "response_format" not in body
    completion = await provider.complete(request(json_schema=SCHEMA))
    assert json.loads(completion.text)["title"] == "Emma"


async def test_none_mode_only_instructs(scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.structured({"title": "x", "year": 1}))
    await make(structured_mode="none").complete(request(json_schema=SCHEMA))
    body = scripted_openai.last_request.body
    assert "response_format" not in body and "tools" not in body
    assert "JSON Schema" in body["messages"][0]["content"]


async def test_azure_uses_deployment_path_api_version_and_key_header(
        scripted_openai: ScriptedOpenAI) -> None:
    provider = azure_provider("az", azure_endpoint=scripted_openai.root_url,
                              api_version="2024-10-21", api_key="azure-key", timeout_s=2.0,
                              extra_headers={"x-tenant": "acme"})
    scripted_openai.script(so.text("From Azure."))
    try:
        completion = await provider.complete(request(model="my-deployment"))
    finally:
        await provider.aclose()
    assert completion.text == "From Azure."
    seen = scripted_openai.last_request
    assert seen.path == "/openai/deployments/my-deployment/chat/completions"
    assert seen.query["api-version"] == "2024-10-21"
    assert seen.headers["api-key"] == "azure-key" and seen.headers["x-tenant"] == "acme"


async def test_scripted_server_routes_replies_by_model_and_lists_models(
        scripted_openai: ScriptedOpenAI, make: Any) -> None:
    scripted_openai.script(so.text("for b"), model="b")
    scripted_openai.script(so.text("for anyone"))
    provider = make()
    assert (await provider.complete(request(model="a"))).text == "for anyone"
    assert (await provider.complete(request(model="b"))).text == "for b"
    assert scripted_openai.pending() == 0
    async with openai.AsyncOpenAI(base_url=scripted_openai.base_url, api_key="k") as client:
        models = await client.models.list()
    assert [m.id for m in models.data] == ["scripted-model"]
