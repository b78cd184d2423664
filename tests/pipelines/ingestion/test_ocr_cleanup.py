"""RouterTextCleaner: the ingest cleanup seam served by the router, called from plain threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from ingest.cleanup import clean_page
from ingest.types import PageText
from pipelines.ingestion.ocr_cleanup import INGEST_TENANT, CleanupUnavailable, RouterTextCleaner
from pipelines.llm import (
    FakeProvider,
    FakeStream,
    Ledger,
    build_providers,
    load_config,
    parse_config,
)
from tests.support import scripted_openai as so
from tests.support.routing import router as make_router
from tests.support.scripted_openai import ScriptedOpenAI

NOISY = "Tbe warranty lasts 2 years frorn the date of purchase."
FIXED = "The warranty lasts 2 years from the date of purchase."


def fake_config(**extra: Any) -> Any:
    return parse_config({"providers": {"cheap": {"kind": "fake"}},
                         "models": [{"id": "cheap-1", "provider": "cheap", "tier": "mid",
                                     "price_in_per_mtok": 1.0, "price_out_per_mtok": 2.0}],
                         **extra}, {})


@pytest.fixture
def cleaners() -> Iterator[list[RouterTextCleaner]]:
    made: list[RouterTextCleaner] = []
    yield made
    for cleaner in made:
        cleaner.close()


def test_cleans_from_threads_without_an_event_loop(engine: Engine,
                                                   cleaners: list[RouterTextCleaner]) -> None:
    cheap = FakeProvider("cheap", default_reply=FIXED)
    cleaner = RouterTextCleaner(make_router(engine, fake_config(), {"cheap": cheap}))
    cleaners.append(cleaner)
    results: list[str] = []

    threads = [threading.Thread(target=lambda: results.append(cleaner.clean(NOISY)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert results == [FIXED] * 4
    assert len(cheap.calls) == 4
    assert cheap.calls[0].messages[-1].content == NOISY  # cleanup@v1 user message is the text
    assert "OCR" in cheap.calls[0].messages[0].content
    booked = Ledger(engine).calls_sync(tenant=INGEST_TENANT)
    assert len([r for r in booked if r.task == "cleanup" and r.outcome == "ok"]) >= 4


def test_ocr_pages_get_the_repair_and_a_ledger_row(engine: Engine,
                                                   cleaners: list[RouterTextCleaner]) -> None:
    cheap = FakeProvider("cheap", [FIXED])
    cleaner = RouterTextCleaner(make_router(engine, fake_config(), {"cheap": cheap}),
                                tenant="t-cleanup-ledger")
    cleaners.append(cleaner)

    page = clean_page(PageText(page_no=1, text=NOISY, method="ocr"), cleaner)

    assert (page.cleanup, page.text) == ("applied", FIXED)
    rows = Ledger(engine).calls_sync(tenant="t-cleanup-ledger")
    assert [(r.task, r.prompt_version, r.outcome) for r in rows][-1:] == [
        ("cleanup", "cleanup@v1", "ok")]


def test_with_only_the_extractive_answerer_cleanup_is_skipped(
        engine: Engine, cleaners: list[RouterTextCleaner]) -> None:
    cfg = load_config(None, {})  # no key: the extractive provider alone
    providers, _ = build_providers(cfg, {})
    cleaner = RouterTextCleaner(make_router(engine, cfg, providers))
    cleaners.append(cleaner)

    assert not cleaner.available()
    with pytest.raises(CleanupUnavailable):
        cleaner.clean(NOISY)
    page = clean_page(PageText(page_no=1, text=NOISY, method="ocr"), cleaner)
    assert page.cleanup == "skipped" and "CleanupUnavailable" in (page.cleanup_reason or "")


def test_through_the_openai_sdk_on_its_own_loop(
        engine: Engine, scripted_openai: ScriptedOpenAI,
        cleaners: list[RouterTextCleaner]) -> None:
    cfg = parse_config({"providers": {"scripted": {"kind": "openai", "api_key": "k",
                                                   "base_url": scripted_openai.base_url,
                                                   "timeout_s": 5}},
                        "models": [{"id": "scripted-model", "provider": "scripted",
                                    "tier": "mid"}]}, {})
    built, _ = build_providers(cfg, {})  # kind "openai": an OpenAICompatProvider, the real SDK
    cleaner = RouterTextCleaner(make_router(engine, cfg, {"scripted": built["scripted"]}))
    cleaners.append(cleaner)
    scripted_openai.script(so.text(FIXED), so.text(FIXED))

    first = cleaner.clean(NOISY)
    second: list[str] = []
    worker = threading.Thread(target=lambda: second.append(cleaner.clean(NOISY)))
    worker.start()
    worker.join(30)

    assert first == FIXED and second == [FIXED]  # one SDK client, reused from two threads
    assert len(scripted_openai.requests) == 2
    assert not scripted_openai.requests[0].body.get("stream")  # a whole reply, not a stream
    assert scripted_openai.requests[0].body["messages"][-1]["content"] == NOISY


def test_a_slow_model_times_out_and_the_page_keeps_its_text(
        engine: Engine, cleaners: list[RouterTextCleaner]) -> None:
    cheap = FakeProvider("cheap", [FakeStream(FIXED, delay_s=5)])
    cleaner = RouterTextCleaner(make_router(engine, fake_config(), {"cheap": cheap}),
                                timeout_s=0.3)
    cleaners.append(cleaner)

    page = clean_page(PageText(page_no=1, text=NOISY, method="ocr"), cleaner)

    assert page.cleanup == "skipped" and "TimeoutError" in (page.cleanup_reason or "")
    assert page.text == NOISY
