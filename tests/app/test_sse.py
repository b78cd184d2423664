"""SSE framing without HTTP: event names and JSON data, and the `done`/`error` ending; the
answer's response closes the answer even when its SSE body never started."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator, MutableMapping
from typing import Any

import pytest
from sse_starlette import JSONServerSentEvent, ServerSentEvent

from app.sse import AnswerEventSource, JsonEvent, answer_sse
from pipelines.answer import (
    AnswerError,
    AnswerEvent,
    AnswerStream,
    Done,
    Handover,
    Meta,
    Sources,
    Token,
    Usage,
)
from pipelines.llm import BudgetExceeded
from retrieval.types import Source

SOURCE = Source(n=1, document_id=uuid.UUID(int=7), filename="manual.pdf", page_start=3,
                page_end=4, section="Support > Warranty", score=0.81234,
                text="Two years.\nFrom purchase.", chunk_ids=(11, 12))
META = Meta("req-1", "openai", "gpt-4o-mini", "mid", "answer@v1")


class Upstream:
    """An answer stream that yields `events`, then raises `fail` or blocks on `hold`."""

    def __init__(self, events: list[AnswerEvent], *, fail: Exception | None = None,
                 hold: bool = False) -> None:
        self.events, self.fail, self.hold = events, fail, hold
        self.closed = False
        self.generator = self._run()

    async def _run(self) -> AsyncGenerator[AnswerEvent, None]:
        try:
            for event in self.events:
                yield event
            if self.fail is not None:
                raise self.fail
            if self.hold:
                await asyncio.Event().wait()
        finally:
            self.closed = True


def decoded(events: list[ServerSentEvent]) -> list[tuple[str | None, Any]]:
    return [(e.event, json.loads(str(e.data))) for e in events]


async def frame(upstream: Upstream) -> list[ServerSentEvent]:
    return [e async for e in answer_sse(upstream.generator)]


async def test_each_answer_event_becomes_one_named_json_event() -> None:
    upstream = Upstream([META, Sources((SOURCE,)), Token("Two"), Token(" years [1]."),
                         Handover("backup", "m2", "mid", 2, 3, {"code": "provider_error",
                                                                "message": "boom"}),
                         Usage(10, 4, 0.00012, 250, 900, 40, 2), Done("stop")])

    out = decoded(await frame(upstream))

    assert [name for name, _ in out] == ["meta", "sources", "token", "token", "handover",
                                         "usage", "done"]
    assert out[0][1] == {"request_id": "req-1", "provider": "openai", "model": "gpt-4o-mini",
                         "tier": "mid", "prompt": "answer@v1", "cached": False,
                         "extractive": False, "degraded": False, "attempt": 1,
                         "insufficient_evidence": False, "conversation_id": None,
                         "query": None, "query_rewrite": None}
    assert out[1][1] == [{"n": 1, "document_id": str(uuid.UUID(int=7)),
                          "filename": "manual.pdf", "page_start": 3, "page_end": 4,
                          "section": "Support > Warranty", "score": 0.8123,
                          "text": "Two years.\nFrom purchase.", "chunk_ids": [11, 12],
                          "truncated": False}]
    assert out[3][1] == {"text": " years [1]."}
    assert out[5][1] == {"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.00012,
                         "ttft_ms": 250, "latency_ms": 900, "retrieval_ms": 40, "attempts": 2}
    assert out[6][1] == {"finish_reason": "stop"}
    assert upstream.closed


async def test_a_newline_in_the_text_stays_inside_one_data_line() -> None:
    out = await frame(Upstream([Token("line one\nline two"), Done()]))

    wire = out[0].encode().decode()
    assert wire == 'event: token\r\ndata: {"text":"line one\\nline two"}\r\n\r\n'


async def test_an_upstream_exception_ends_the_stream_with_an_error_event() -> None:
    upstream = Upstream([META, Token("Two")], fail=RuntimeError("database went away"))

    out = decoded(await frame(upstream))

    assert [name for name, _ in out] == ["meta", "token", "error"]
    assert out[-1][1]["code"] == "internal_error"
    assert "database went away" not in out[-1][1]["message"]  # no internals to clients
    assert upstream.closed


async def test_a_domain_error_keeps_its_code() -> None:
    refusal = BudgetExceeded("over budget", budget_usd=1.0, spent_usd=1.0, remaining_usd=0.0)

    out = decoded(await frame(Upstream([META], fail=refusal)))

    assert out[-1] == ("error", {"code": "budget_exceeded", "message": "over budget",
                                 "details": {}, "partial_text": "", "cost_usd": None})


async def test_an_answer_error_is_the_last_event() -> None:
    broken = AnswerError("provider_error", "dropped", {"provider": "x"}, "Two ye", 0.001)
    upstream = Upstream([META, Token("Two ye"), broken, Token("never sent")])

    out = decoded(await frame(upstream))

    assert [name for name, _ in out] == ["meta", "token", "error"]
    assert out[-1][1]["partial_text"] == "Two ye" and out[-1][1]["cost_usd"] == 0.001
    assert upstream.closed


async def test_an_upstream_that_stops_without_done_gets_an_error_ending() -> None:
    out = decoded(await frame(Upstream([META, Token("Two")])))

    assert out[-1][0] == "error" and out[-1][1]["code"] == "stream_incomplete"


async def test_cancellation_closes_upstream_and_offers_an_error_event() -> None:
    upstream = Upstream([META, Token("Two")], hold=True)
    received: list[ServerSentEvent] = []
    got_two = asyncio.Event()

    async def consume() -> None:
        async for event in answer_sse(upstream.generator):
            received.append(event)
            if len(received) == 2:
                got_two.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_two.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)

    assert task in done and task.cancelled()
    assert [name for name, _ in decoded(received)] == ["meta", "token", "error"]
    assert decoded(received)[-1][1]["code"] == "cancelled"
    assert upstream.closed  # what stops the provider call


async def test_closing_the_sse_generator_closes_upstream() -> None:
    upstream = Upstream([META, Token("Two")], hold=True)
    sse = answer_sse(upstream.generator)

    assert (await anext(sse)).event == "meta"
    await sse.aclose()

    assert upstream.closed


async def test_the_answer_response_closes_the_model_stream_when_its_body_never_started() -> None:
    model_closed: list[bool] = []

    async def model_stream() -> AsyncGenerator[str, None]:
        try:
            yield "first token"
            await asyncio.Event().wait()
        finally:
            model_closed.append(True)

    model = model_stream()
    assert await anext(model) == "first token"  # started, as `answer()` starts the router's
    relay = Upstream([META, Done()])  # its generator is never started below
    response = AnswerEventSource(AnswerStream(relay.generator, owns=model))

    async def receive() -> MutableMapping[str, Any]:
        await asyncio.Event().wait()  # the client never says it left
        return {}

    async def send(message: MutableMapping[str, Any]) -> None:
        raise OSError("the client went away before the first byte")

    with pytest.raises(OSError, match="before the first byte"):
        await response({"type": "http", "method": "POST", "headers": []}, receive, send)

    assert model_closed == [True] and not relay.closed  # relay never ran: nothing to close


@pytest.mark.parametrize("data", [
    {"text": "Grüße — \u2028 \n \"quoted\" \\ 😀", "n": [1, 2.5, None, True]},
    {"id": "chatcmpl-1", "choices": [{"delta": {"content": " word7"}, "finish_reason": None}]},
    "a plain string", 42,
])
@pytest.mark.parametrize(("event", "sep"), [("token", None), (None, "\n")])
def test_a_json_event_is_framed_as_sse_starlettes_own(data: Any, event: str | None,
                                                      sep: str | None) -> None:
    ours = JsonEvent(data, event=event, sep=sep).encode()
    assert ours == JSONServerSentEvent(data, event=event, sep=sep).encode()
    assert json.loads(ours.decode().split("data: ", 1)[1]) == data
