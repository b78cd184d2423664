"""Answer cache: key normalisation, tenant scope, TTL, and replay through the router."""

from __future__ import annotations

from sqlalchemy import Engine

from pipelines.llm.cache import AnswerCache, cache_key
from pipelines.llm.ledger import Ledger
from pipelines.llm.providers.fake import FakeProvider
from pipelines.llm.route_request import CacheQuery, RouteRequest
from pipelines.llm.router_events import Finished, Started
from pipelines.llm.types import TextDelta
from tests.support.routing import MESSAGES, collect, config, router, tenant

CHUNKS = [("c1", "h1"), ("c2", "h2")]


def key(**over: object) -> str:
    args: dict[str, object] = dict(question="What was revenue in 2023?", chunks=CHUNKS,
                                   prompt_version="answer@v1", model="openai:gpt-4o-mini")
    args.update(over)
    return cache_key(**args)  # type: ignore[arg-type]


def test_key_folds_case_and_whitespace_and_ignores_chunk_order() -> None:
    assert key() == key(question="  what WAS revenue\n in   2023? ")
    assert key() == key(chunks=list(reversed(CHUNKS)))
    for changed in (key(question="What was revenue in 2022?"), key(chunks=[("c1", "h1")]),
                    key(chunks=[("c1", "h1"), ("c2", "CHANGED")]),
                    key(prompt_version="answer@v2"), key(model="openai:gpt-4o")):
        assert changed != key()


async def test_get_put_is_tenant_scoped_and_expires(engine: Engine) -> None:
    cache = AnswerCache(engine)
    a, b = tenant(), tenant()
    await cache.put(a, key(), {"text": "42"}, model="m", prompt_version="answer@v1")
    hit = await cache.get(a, key())
    assert hit is not None and hit.payload == {"text": "42"} and hit.model == "m"
    assert await cache.get(b, key()) is None
    await cache.put(a, key(), {"text": "43"}, model="m", prompt_version="answer@v1")  # replace
    assert (await cache.get(a, key())).payload["text"] == "43"  # type: ignore[union-attr]
    await cache.put(a, "old", {"text": "x"}, model="m", prompt_version="answer@v1", ttl_s=0)
    assert await cache.get(a, "old") is None
    assert cache.purge_expired() >= 1


async def test_router_replays_a_cached_answer_without_calling_the_provider(
    engine: Engine
) -> None:
    cheap = FakeProvider("cheap", ["Revenue was $5M [1].", "Fresh answer."])
    r = router(engine, config(), {"cheap": cheap}, with_cache=True)
    t = tenant()
    query = CacheQuery("What was revenue in 2023?", CHUNKS)

    first = await collect(r.stream(RouteRequest("answer", t, MESSAGES, prompt="answer@v1",
                                                cache=query)))
    assert isinstance(first[0], Started) and not first[0].served.cached

    again = CacheQuery("what was REVENUE in 2023?", list(reversed(CHUNKS)))
    second = await collect(r.stream(RouteRequest("answer", t, MESSAGES, prompt="answer@v1",
                                                 cache=again)))
    assert len(cheap.calls) == 1
    assert isinstance(second[0], Started) and second[0].served.cached
    assert second[0].served.model == "cheap-1" and second[0].served.prompt == "answer@v1"
    assert "".join(e.text for e in second if isinstance(e, TextDelta)) == "Revenue was $5M [1]."
    done = second[-1]
    assert isinstance(done, Finished) and done.cost_usd == 0.0

    rows = await Ledger(engine).calls(tenant=t)
    assert [(x.cached, x.outcome) for x in rows] == [(False, "ok"), (True, "ok")]
    assert rows[1].cost_usd == 0.0 and rows[1].request_id == second[0].served.request_id
    assert r.metrics.registry.get_sample_value(
        "lectern_llm_cache_lookups_total", {"task": "answer", "result": "hit"}) == 1

    # New content behind a chunk id, or another tenant: a miss, so the provider answers.
    changed = CacheQuery("What was revenue in 2023?", [("c1", "h1"), ("c2", "h2-new")])
    fresh = await r.complete(RouteRequest("answer", t, MESSAGES, prompt="answer@v1", cache=changed))
    assert fresh.text == "Fresh answer." and not fresh.served.cached
    cheap.queue("Other tenant.")
    other = await r.complete(RouteRequest("answer", tenant(), MESSAGES, prompt="answer@v1",
                                          cache=query))
    assert other.text == "Other tenant." and len(cheap.calls) == 3
