"""Structured output that adapts: a server rejecting `response_format: json_schema` the way
llama-cpp-python's does gets json_object (then plain text) instead, once per rejected mode,
remembered per model, and never counted against the provider's breaker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from pipelines.llm.errors import ProviderError
from pipelines.llm.providers.openai_compat import OpenAICompatProvider
from pipelines.llm.route_request import RouteRequest
from pipelines.llm.types import ChatRequest, Message, StreamEnd, TextDelta
from tests.support import scripted_openai as so
from tests.support.extract import GOOD_RECEIPT, llm_config, scripted_router, tenant, user_text
from tests.support.scripted_llamacpp import RejectingOpenAI, rejecting_openai_server

SCHEMA: dict[str, Any] = {"type": "object", "properties": {"total": {"type": "string"}},
                          "required": ["total"], "additionalProperties": False}


def schema_request(**overrides: Any) -> ChatRequest:
    fields: dict[str, Any] = {
        "messages": (Message("system", "Extract the fields."), Message("user", "TOTAL: 9.00")),
        "model": "scripted-model", "json_schema": SCHEMA, "schema_name": "receipt"}
    return ChatRequest(**{**fields, **overrides})


@pytest.fixture
def llamacpp() -> Iterator[RejectingOpenAI]:
    with rejecting_openai_server() as server:
        yield server


def provider(server: RejectingOpenAI) -> OpenAICompatProvider:
    return OpenAICompatProvider("llamacpp", base_url=server.base_url, api_key="k",
                                timeout_s=5.0)


async def test_rejected_json_schema_is_retried_as_json_object_and_remembered(
        llamacpp: RejectingOpenAI) -> None:
    llamacpp.script(so.structured({"total": "9.00"}), so.structured({"total": "1.00"}))
    chat = provider(llamacpp)
    try:
        first = await chat.complete(schema_request())
        assert first.text == '{"total": "9.00"}' and first.structured == "json_object"
        assert llamacpp.rejections == ["json_schema"]
        body = llamacpp.last_request.body
        assert body["response_format"] == {"type": "json_object"}
        assert '"total"' in user_text(body) and "JSON Schema" in user_text(body)
        assert chat.capabilities("scripted-model").structured == "json_object"
        assert chat.capabilities("other-model").structured == "json_schema"

        second = await chat.complete(schema_request())  # no second rejection: remembered
        assert second.structured == "json_object" and llamacpp.rejections == ["json_schema"]
        plain = await chat.complete(schema_request(json_schema=None))
        assert plain.structured is None and "response_format" not in llamacpp.last_request.body
    finally:
        await chat.aclose()


async def test_json_object_rejected_too_falls_back_to_the_schema_in_the_prompt() -> None:
    with rejecting_openai_server(rejected=frozenset({"json_schema", "json_object"}),
                                 status=500) as server:
        server.script(so.structured({"total": "9.00"}))
        chat = provider(server)
        try:
            reply = await chat.complete(schema_request())
        finally:
            await chat.aclose()
    assert reply.structured == "none" and server.rejections == ["json_schema", "json_object"]
    body = server.last_request.body
    assert "response_format" not in body and "JSON Schema" in user_text(body)


async def test_streamed_schema_request_steps_down_before_its_first_chunk(
        llamacpp: RejectingOpenAI) -> None:
    llamacpp.script(so.text('{"total": "9.00"}'))
    chat = provider(llamacpp)
    try:
        items = [item async for item in chat.stream(schema_request())]
    finally:
        await chat.aclose()
    text = "".join(i.text for i in items if isinstance(i, TextDelta))
    assert text == '{"total": "9.00"}' and isinstance(items[-1], StreamEnd)
    assert llamacpp.rejections == ["json_schema"]
    assert llamacpp.last_request.body["response_format"] == {"type": "json_object"}


async def test_other_errors_are_not_retried(llamacpp: RejectingOpenAI) -> None:
    llamacpp.script(so.error(400, "messages: too long"), so.error(500, "boom"))
    chat = provider(llamacpp)
    try:
        with pytest.raises(ProviderError) as bad:  # json_schema rejected, json_object: 400
            await chat.complete(schema_request())
        assert bad.value.status == 400 and not bad.value.retryable
        with pytest.raises(ProviderError) as down:  # a 5xx not about the format: no retry
            await chat.complete(schema_request())
        assert down.value.status == 500 and down.value.retryable
    finally:
        await chat.aclose()
    assert llamacpp.rejections == ["json_schema"] and len(llamacpp.requests) == 2


async def test_the_router_serves_the_fallback_without_touching_the_breaker(engine: Engine) -> None:
    with rejecting_openai_server(status=500) as server:
        config = llm_config(server, breaker={"failures_to_open": 1})
        server.script(so.structured(GOOD_RECEIPT), so.structured(GOOD_RECEIPT))
        t = tenant()
        async with scripted_router(engine, config) as router:
            for _ in range(2):
                reply = await router.complete(RouteRequest(
                    "extract", t, [Message("user", "TOTAL: 9.00")], prompt="extract@v1",
                    json_schema=SCHEMA, schema_name="receipt"))
                assert reply.served.structured == "json_object"
                assert [a.outcome for a in reply.attempts] == ["ok"]
            assert str(router.breakers.get("primary").state) == "closed"
            assert router.candidates("extract", (), structured=True)[0].structured == (
                "json_object")
    assert server.rejections == ["json_schema"]
