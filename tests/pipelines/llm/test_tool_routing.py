"""The router with tools, tool messages, `stop` and JSON mode, on FakeProviders.

The capability filter (only providers whose `Capabilities` have `tools` / `stop` are
candidates for calls needing them), the tool calls coming back whole and streamed, the ledger
booking their tokens, and a tool call broken mid-stream that nobody continues.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from pipelines.llm.candidates import NO_STOP, NO_TOOLS
from pipelines.llm.errors import NoProviderAvailable
from pipelines.llm.ledger import Ledger
from pipelines.llm.providers.fake import FakeProvider, FakeStream
from pipelines.llm.route_request import RouteRequest
from pipelines.llm.router_events import Finished, Started, StreamFailed
from pipelines.llm.types import (
    Capabilities,
    Message,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolCallDelta,
    ToolUse,
)
from tests.support.routing import MESSAGES, collect, config, router, tenant

TOOLS = ToolUse(({"type": "function", "function": {"name": "get_weather", "parameters": {}}},),
                "auto")
CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
ABLE = Capabilities(structured="json_schema", tools=True, stop=True)
PLAIN = Capabilities(structured="json_schema")


def providers(cheap: Capabilities = PLAIN, pricey: Capabilities = ABLE) -> dict[str, FakeProvider]:
    """cheap (mid) without tools or stop by default; pricey (premium) with both."""
    return {"cheap": FakeProvider("cheap", capabilities=cheap),
            "pricey": FakeProvider("pricey", capabilities=pricey),
            "local": FakeProvider("local")}


def call(messages: tuple[Message, ...] = MESSAGES, **options: object) -> RouteRequest:
    return RouteRequest("answer", tenant(), messages, prompt="chat@v1", **options)


async def test_only_tool_capable_models_are_candidates_for_tools(engine: Engine) -> None:
    r = router(engine, config(), providers())
    skipped: dict[str, str] = {}

    cands = r.candidates("answer", MESSAGES, tools=True, skipped=skipped)

    assert [c.model.id for c in cands] == ["pricey-1"]
    assert (skipped["cheap-1"], skipped["local-1"]) == (NO_TOOLS, NO_TOOLS)
    assert [c.model.id for c in r.candidates("answer", MESSAGES)][:2] == ["cheap-1", "pricey-1"]
    stop_skipped: dict[str, str] = {}
    assert [c.model.id for c in r.candidates("answer", MESSAGES, stop=True,
                                             skipped=stop_skipped)] == ["pricey-1"]
    assert stop_skipped["cheap-1"] == NO_STOP


async def test_a_tool_call_comes_back_whole_and_is_booked(engine: Engine) -> None:
    given = providers()
    given["pricey"].queue(FakeStream("", tool_calls=(CALL,), usage=TokenUsage(50, 12)))
    r = router(engine, config(), given)
    request = call(tools=TOOLS, stop=("END",))

    reply = await r.complete(request)

    assert reply.tool_calls == (CALL,) and reply.finish_reason == "tool_calls"
    assert reply.served.model == "pricey-1" and not given["cheap"].calls
    sent = given["pricey"].calls[0]
    assert sent.tools == TOOLS and sent.stop == ("END",)
    rows = await Ledger(engine).calls(tenant=request.tenant)
    assert [(x.provider, x.outcome, x.input_tokens, x.output_tokens) for x in rows] == [
        ("pricey", "ok", 50, 12)]
    assert rows[0].cost_usd == pytest.approx((50 * 10.0 + 12 * 20.0) / 1e6)


async def test_tool_messages_alone_need_a_tool_capable_model(engine: Engine) -> None:
    given = providers()
    given["pricey"].queue("It is sunny.")
    r = router(engine, config(), given)
    follow_up = (*MESSAGES, Message("assistant", "", (CALL,)),
                 Message("tool", '{"sky": "clear"}', tool_call_id="call_1"))

    reply = await r.complete(call(follow_up))

    assert reply.text == "It is sunny." and reply.served.provider == "pricey"
    assert given["pricey"].calls[0].messages[-1].tool_call_id == "call_1"


async def test_no_tool_capable_model_names_the_capability(engine: Engine) -> None:
    r = router(engine, config(), providers(pricey=PLAIN))

    with pytest.raises(NoProviderAvailable) as raised:
        await r.complete(call(tools=TOOLS))

    assert "tool calling" in raised.value.message
    skipped = raised.value.details["skipped"]
    assert [skipped[m] for m in ("cheap-1", "pricey-1", "local-1")] == [NO_TOOLS] * 3


async def test_streamed_tool_call_deltas_keep_their_order(engine: Engine) -> None:
    given = providers(cheap=ABLE)
    second = ToolCall("call_2", "get_time", "{}")
    given["cheap"].queue(FakeStream("Let me look.", tool_calls=(CALL, second)))
    r = router(engine, config(), given)

    events = await collect(r.stream(call(tools=TOOLS)))

    assert isinstance(events[0], Started) and events[0].served.model == "cheap-1"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me look."
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas == [ToolCallDelta(0, "call_1", "get_weather"),
                      ToolCallDelta(0, arguments='{"city":'),
                      ToolCallDelta(0, arguments=' "Paris"}'),
                      ToolCallDelta(1, "call_2", "get_time"), ToolCallDelta(1, arguments="{}")]
    done = events[-1]
    assert isinstance(done, Finished) and done.finish_reason == "tool_calls"


async def test_a_tool_call_broken_mid_stream_is_not_continued(engine: Engine) -> None:
    given = providers(cheap=ABLE)
    given["cheap"].queue(FakeStream("", tool_calls=(CALL,), fail_after=0))
    given["pricey"].queue("never")
    r = router(engine, config(), given)
    request = call(tools=TOOLS)

    events = await collect(r.stream(request))

    assert isinstance(events[-1], StreamFailed)
    assert any(isinstance(e, ToolCallDelta) for e in events)
    assert not given["pricey"].calls  # a half-made call cannot be handed over
    rows = await Ledger(engine).calls(tenant=request.tenant)
    assert [(x.provider, x.outcome) for x in rows] == [("cheap", "error")]


async def test_json_mode_goes_to_structured_models_only(engine: Engine) -> None:
    given = providers(cheap=Capabilities(structured="none"))
    given["pricey"].queue('{"a": 1}')
    r = router(engine, config(), given)

    reply = await r.complete(call(json_object=True))

    assert reply.text == '{"a": 1}' and reply.served.provider == "pricey"
    assert given["pricey"].calls[0].json_object and given["pricey"].calls[0].structured
