"""Router: cheapest healthy candidate, fallback, streaming failover, breaker, ledger, metrics."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest
from sqlalchemy import Engine, text

from pipelines.llm.breaker import BreakerBoard
from pipelines.llm.errors import NoProviderAvailable, ProviderError
from pipelines.llm.ledger import Ledger
from pipelines.llm.providers.fake import FakeProvider, FakeStream
from pipelines.llm.providers.openai_compat import OpenAICompatProvider
from pipelines.llm.route_request import RouteRequest
from pipelines.llm.router import Router
from pipelines.llm.router_events import Failover, Finished, RouterEvent, Started, StreamFailed
from pipelines.llm.types import Capabilities, TextDelta, TokenUsage
from tests.support import scripted_openai as so
from tests.support.routing import MESSAGES, FakeClock, collect, config, router, tenant

RouterStream = AsyncGenerator[RouterEvent, None]


def err(provider: str, *, retryable: bool = True, status: int = 500) -> ProviderError:
    return ProviderError(f"{provider} says {status}", provider=provider, status=status,
                         retryable=retryable)


async def test_cheapest_model_meeting_the_tier_serves_and_is_booked(engine: Engine) -> None:
    cheap = FakeProvider("cheap", ["Because [1]."], usage=TokenUsage(1000, 500))
    pricey = FakeProvider("pricey", ["never"])
    local = FakeProvider("local", ["never"])
    r = router(engine, config(), {"cheap": cheap, "pricey": pricey, "local": local})
    t = tenant()

    events = await collect(r.stream(RouteRequest("answer", t, MESSAGES, prompt="answer@v1")))

    assert isinstance(events[0], Started)
    assert (events[0].served.provider, events[0].served.model, events[0].served.tier) == (
        "cheap", "cheap-1", "mid")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Because [1]."
    done = events[-1]
    assert isinstance(done, Finished)
    assert done.cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert len(cheap.calls) == 1 and not pricey.calls and not local.calls  # free is below mid
    rows = await Ledger(engine).calls(tenant=t)
    assert [(x.provider, x.outcome, x.prompt_version, x.input_tokens, x.output_tokens)
            for x in rows] == [("cheap", "ok", "answer@v1", 1000, 500)]
    assert rows[0].cost_usd == pytest.approx(done.cost_usd)
    assert rows[0].request_id == events[0].served.request_id


async def test_candidates_respect_capabilities_and_tasks(engine: Engine) -> None:
    providers = {"cheap": FakeProvider("cheap", capabilities=Capabilities(structured="none")),
                 "pricey": FakeProvider("pricey"), "local": FakeProvider("local"),
                 "extractive": FakeProvider("extractive",
                                            capabilities=Capabilities(extractive=True))}
    r = router(engine, config(), providers)
    skipped: dict[str, str] = {}
    extract = r.candidates("extract", MESSAGES, structured=True, skipped=skipped)
    assert [c.model.id for c in extract] == ["pricey-1", "local-1"]  # local is degraded
    assert extract[1].degraded and "structured" in skipped["cheap-1"]
    assert "only answer" not in skipped.get("extractive", "")
    classify = r.candidates("classify", MESSAGES, skipped=skipped)
    assert "extractive" not in [c.model.id for c in classify]
    assert classify[0].model.id == "local-1"  # classify takes any tier: free first
    answer = r.candidates("answer", MESSAGES)
    assert [c.model.id for c in answer] == ["cheap-1", "pricey-1", "local-1", "extractive"]


async def test_fallback_before_first_token_is_transparent(engine: Engine) -> None:
    cheap = FakeProvider("cheap", [err("cheap", status=429)])
    pricey = FakeProvider("pricey", ["Second opinion."])
    r = router(engine, config(), {"cheap": cheap, "pricey": pricey})
    t = tenant()

    events = await collect(r.stream(RouteRequest("answer", t, MESSAGES, prompt="answer@v1")))

    assert isinstance(events[0], Started) and events[0].served.provider == "pricey"
    assert events[0].served.attempt == 2
    assert not any(isinstance(e, Failover) for e in events)
    assert isinstance(events[-1], Finished) and events[-1].text == "Second opinion."
    rows = await Ledger(engine).calls(tenant=t)
    assert [(x.provider, x.outcome, x.attempt) for x in rows] == [
        ("cheap", "fallback", 1), ("pricey", "ok", 2)]
    assert "429" in (rows[0].error or "")


async def test_non_retryable_error_is_raised_without_fallback(engine: Engine) -> None:
    cheap = FakeProvider("cheap", [err("cheap", retryable=False, status=400)])
    pricey = FakeProvider("pricey", ["unused"])
    r = router(engine, config(), {"cheap": cheap, "pricey": pricey})
    t = tenant()
    with pytest.raises(ProviderError) as info:
        await collect(r.stream(RouteRequest("answer", t, MESSAGES, prompt="answer@v1")))
    assert info.value.status == 400 and not pricey.calls
    assert [x.outcome for x in await Ledger(engine).calls(tenant=t)] == ["error"]


async def test_mid_stream_failure_is_continued_by_the_next_model(engine: Engine) -> None:
    cheap = FakeProvider("cheap", [FakeStream("Revenue grew by 12%", fail_after=2)])
    pricey = FakeProvider("pricey", [" by 12% [1]."])
    r = router(engine, config(), {"cheap": cheap, "pricey": pricey})
    t = tenant()

    events = await collect(r.stream(RouteRequest("answer", t, MESSAGES, prompt="answer@v1")))

    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Started", "TextDelta", "TextDelta", "Failover", *["TextDelta"] * 3,
                     "Finished"]
    failover = events[3]
    assert isinstance(failover, Failover) and failover.served.provider == "pricey"
    assert failover.kept_chars == len("Revenue grew")
    done = events[-1]
    assert isinstance(done, Finished) and done.text == "Revenue grew by 12% [1]."
    continued = pricey.calls[0].messages
    assert continued[-2].role == "assistant" and continued[-2].content == "Revenue grew"
    assert "Continue" in continued[-1].content
    rows = await Ledger(engine).calls(tenant=t)
    assert [x.outcome for x in rows] == ["fallback", "ok"]
    assert rows[0].output_tokens > 0 and rows[0].cost_usd > 0  # the partial output is paid


async def test_mid_stream_failure_in_error_mode_keeps_partial_text(engine: Engine) -> None:
    cheap = FakeProvider("cheap", [FakeStream("Revenue grew by 12%", fail_after=2)])
    pricey = FakeProvider("pricey", ["unused"])
    r = router(engine, config(router={"mid_stream": "error"}), {"cheap": cheap, "pricey": pricey})

    events = await collect(r.stream(RouteRequest("answer", tenant(), MESSAGES, prompt="answer@v1")))

    last = events[-1]
    assert isinstance(last, StreamFailed)
    assert last.partial_text == "Revenue grew" and last.served is not None
    assert not pricey.calls


async def test_no_provider_explains_how_to_configure(engine: Engine) -> None:
    r = router(engine, config(), {})
    with pytest.raises(NoProviderAvailable) as info:
        await r.complete(RouteRequest("answer", tenant(), MESSAGES, prompt="answer@v1"))
    assert info.value.http_status == 503 and "OPENAI_API_KEY" in info.value.message
    assert "cheap-1" in info.value.details["skipped"]


async def test_breaker_opens_skips_and_probes_after_cooldown(engine: Engine) -> None:
    clock = FakeClock()
    cheap = FakeProvider("cheap", [err("cheap"), err("cheap"), err("cheap"), "probe ok"])
    pricey = FakeProvider("pricey", default_reply="pricey answer")
    r = router(engine, config(), {"cheap": cheap, "pricey": pricey}, clock=clock)
    t = tenant()
    ask = RouteRequest("answer", t, MESSAGES, prompt="p@v1")

    for _ in range(2):  # failures_to_open = 2
        assert (await r.complete(ask)).served.provider == "pricey"
    assert r.breakers.get("cheap").state == "open"
    assert r.metrics.registry.get_sample_value(
        "lectern_llm_breaker_state", {"provider": "cheap"}) == 2

    assert (await r.complete(ask)).served.provider == "pricey"
    assert len(cheap.calls) == 2  # skipped while open
    skipped: dict[str, str] = {}
    assert [c.model.id for c in r.candidates("answer", MESSAGES, skipped=skipped)] == ["pricey-1"]
    assert skipped["cheap-1"] == "circuit breaker open"

    clock.advance(31)  # half-open: one probe, which fails -> open again
    assert (await r.complete(ask)).served.provider == "pricey"
    assert len(cheap.calls) == 3 and r.breakers.get("cheap").state == "open"

    clock.advance(31)  # the next probe succeeds -> closed
    assert (await r.complete(ask)).served.provider == "cheap"
    assert r.breakers.get("cheap").state == "closed"
    assert {h["model"]: (h["built"], h["breaker"]) for h in r.health()}["cheap-1"] == (
        True, "closed")


async def test_metrics_count_tokens_cost_and_errors(engine: Engine) -> None:
    cheap = FakeProvider("cheap", [err("cheap", status=503), "ok"], usage=TokenUsage(10, 20))
    pricey = FakeProvider("pricey", ["fine"], usage=TokenUsage(100, 200))
    r = router(engine, config(), {"cheap": cheap, "pricey": pricey})
    await r.complete(RouteRequest("cleanup", tenant(), MESSAGES, prompt="cleanup@v1"))
    reg = r.metrics.registry
    labels = {"provider": "pricey", "model": "pricey-1", "task": "cleanup"}
    assert reg.get_sample_value("lectern_llm_tokens_total", {**labels, "direction": "output"}
                                ) == 200
    assert reg.get_sample_value("lectern_llm_cost_usd_total", labels) == pytest.approx(
        (100 * 10 + 200 * 20) / 1e6)
    assert reg.get_sample_value("lectern_llm_provider_errors_total", {
        "provider": "cheap", "model": "cheap-1", "task": "cleanup", "kind": "503"}) == 1


async def test_fallback_over_the_real_sdk_and_a_socket(
    engine: Engine, scripted_openai: so.ScriptedOpenAI
) -> None:
    """500, 429 and a timeout on the mid model, each answered by the premium model; then a
    disconnect mid-stream continued by the premium model."""
    cfg = config(providers={"cheap": {"kind": "openai"}, "pricey": {"kind": "openai"}},
                 models=[{"id": "cheap-1", "provider": "cheap", "tier": "mid",
                          "price_in_per_mtok": 0.15, "price_out_per_mtok": 0.6},
                         {"id": "pricey-1", "provider": "pricey", "tier": "premium",
                          "price_in_per_mtok": 2.5, "price_out_per_mtok": 10.0}],
                 breaker={"failures_to_open": 10})
    providers = {name: OpenAICompatProvider(name, base_url=scripted_openai.base_url,
                                            api_key="k", timeout_s=0.5)
                 for name in ("cheap", "pricey")}
    r = router(engine, cfg, providers)
    t = tenant()
    scripted_openai.script(so.error(500), so.error(429, retry_after=1), so.timeout(1.5),
                           so.disconnect(after_chunks=2, content="Paris is the capital"),
                           model="cheap-1")
    scripted_openai.default = so.text("Paris is the capital [1].")
    for _ in range(3):
        events = await collect(r.stream(RouteRequest("answer", t, MESSAGES, prompt="answer@v1")))
        assert isinstance(events[0], Started) and events[0].served.provider == "pricey"
        assert isinstance(events[-1], Finished)
        assert events[-1].text == "Paris is the capital [1]."
    scripted_openai.default = so.text(" the capital [1].")
    events = await collect(r.stream(RouteRequest("answer", t, MESSAGES, prompt="answer@v1")))
    assert [type(e).__name__ for e in events][:4] == ["Started", "TextDelta", "TextDelta",
                                                      "Failover"]
    assert isinstance(events[-1], Finished)
    assert events[-1].text == "Paris is the capital [1]."
    rows = await Ledger(engine).calls(tenant=t)
    assert [(x.provider, x.outcome) for x in rows] == [
        ("cheap", "fallback"), ("pricey", "ok")] * 4
    assert [x.body["model"] for x in scripted_openai.requests[-2:]] == ["cheap-1", "pricey-1"]
    assert scripted_openai.requests[-1].body["messages"][-2] == {
        "role": "assistant", "content": "Paris is"}
    for p in providers.values():
        await p.aclose()


def six_words(engine: Engine, delay_s: float) -> tuple[Router, str, RouterStream]:
    """A router with one cheap model, a tenant with $1 a day, and its six-word answer stream."""
    cheap = FakeProvider("cheap", [FakeStream("one two three four five six", delay_s=delay_s)])
    r = router(engine, config(budgets={"daily_usd": 1.0}), {"cheap": cheap})
    t = tenant()
    return r, t, r.stream(RouteRequest("answer", t, MESSAGES, prompt="answer@v1"))


async def test_a_client_that_goes_away_books_a_cancelled_row_and_frees_the_budget(
    engine: Engine
) -> None:
    r, t, stream = six_words(engine, delay_s=0.01)
    seen = [await anext(stream) for _ in range(3)]  # Started + two tokens
    assert isinstance(seen[0], Started)
    assert (await r.budget.status(t)).reserved_usd > 0  # held while the call runs
    await stream.aclose()
    rows = await Ledger(engine).calls(tenant=t)
    assert [(x.outcome, x.output_tokens > 0) for x in rows] == [("cancelled", True)]
    status = await r.budget.status(t)
    assert status.reserved_usd == 0 and status.spent_usd == pytest.approx(rows[0].cost_usd)


async def test_a_cancelled_consumer_books_its_row_even_while_the_threads_are_busy(
    engine: Engine
) -> None:
    # How an SSE response stops when its client hangs up: a cancel scope cancels the task that
    # waits for the next piece, and again at every await on its way out. The booking must land
    # even then, including when its worker thread is not free yet (one busy worker here).
    r, t, stream = six_words(engine, delay_s=0.05)
    assert isinstance(await anext(stream), Started)
    assert isinstance(await anext(stream), TextDelta)
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    gate = threading.Event()
    busy = loop.run_in_executor(None, gate.wait)
    try:
        with anyio.move_on_after(0.02) as scope:  # while the provider is between two pieces
            await anext(stream)
        assert scope.cancelled_caught
    finally:
        gate.set()
    await busy
    rows = await Ledger(engine).calls(tenant=t)
    for _ in range(100):
        if rows:
            break
        await asyncio.sleep(0.02)
        rows = await Ledger(engine).calls(tenant=t)
    assert [x.outcome for x in rows] == ["cancelled"]
    assert (await r.budget.status(t)).reserved_usd == 0


async def test_a_request_cancelled_while_its_budget_is_reserved_leaves_no_reservation(
    engine: Engine
) -> None:
    # The reservation's thread is already inserting the row (held up here by another holder of
    # the tenant's budget lock) when the request is cancelled: the row is made anyway, and
    # must be released rather than hold the budget until it goes stale.
    r, t, stream = six_words(engine, delay_s=0.01)
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"),
                       {"k": f"lectern.llm.budget:{t}"})
        try:
            with anyio.move_on_after(0.3) as scope:
                await anext(stream)
            assert scope.cancelled_caught
        finally:
            holder.execute(text("SELECT pg_advisory_unlock_all()"))
            holder.commit()
    for _ in range(100):
        await asyncio.sleep(0.02)
        if (await r.budget.status(t)).reserved_usd == 0:
            break
    assert (await r.budget.status(t)).reserved_usd == 0
    assert await Ledger(engine).calls(tenant=t) == []  # nothing was called, nothing booked


async def test_extraction_gets_the_schema_and_only_structured_models(engine: Engine) -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number"}}}
    cheap = FakeProvider("cheap", capabilities=Capabilities(structured="none"))
    pricey = FakeProvider("pricey", ['{"total": 12.5}'])
    r = router(engine, config(), {"cheap": cheap, "pricey": pricey})
    done = await r.complete(RouteRequest("extract", tenant(), MESSAGES, prompt="extract@v1",
                                         json_schema=schema, schema_name="Invoice",
                                         max_tokens=200))
    assert done.text == '{"total": 12.5}' and done.served.structured == "json_schema"
    assert not cheap.calls
    request = pricey.calls[0]
    assert (request.json_schema, request.schema_name, request.max_tokens) == (
        schema, "Invoice", 200)


def test_half_open_breaker_lets_exactly_one_probe_through() -> None:
    clock = FakeClock()
    board = BreakerBoard(failures_to_open=1, cooldown_s=10, clock=clock)
    breaker = board.get("p")
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.advance(10)
    assert breaker.state == "half_open" and breaker.available()
    assert breaker.allow() and not breaker.allow()  # the second caller waits for the probe
    clock.advance(10)  # a probe that never reported back expires
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and board.states() == {"p": "closed"}
