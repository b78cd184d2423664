"""OCR cleanup during a provider outage: it waits with backoff for a bounded time per outage,
resumes when the provider returns, and otherwise keeps the OCR text, saying so in the page's
cleanup reason (the processing log)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from ingest.cleanup import clean_page
from ingest.types import PageText
from pipelines.ingestion import CleanupUnavailable, ProviderWait, RouterTextCleaner
from pipelines.llm import (
    Budget,
    FakeProvider,
    Ledger,
    LLMMetrics,
    ProviderError,
    Router,
    parse_config,
)

NOISY = "Tbe warranty lasts 2 years frorn the date of purchase."
FIXED = "The warranty lasts 2 years from the date of purchase."


def down() -> ProviderError:
    return ProviderError("scripted outage", provider="cheap", status=503)


def router(engine: Engine, fake: FakeProvider, cooldown_s: float) -> Router:
    config = parse_config({
        "providers": {"cheap": {"kind": "fake"}},
        "models": [{"id": "cheap-1", "provider": "cheap", "tier": "mid"}],
        "breaker": {"failures_to_open": 1, "cooldown_s": cooldown_s}}, {})
    ledger = Ledger(engine)
    return Router(config, {"cheap": fake}, budget=Budget(engine, config.budgets, ledger),
                  ledger=ledger, metrics=LLMMetrics(CollectorRegistry()))


@pytest.fixture
def made() -> Iterator[list[RouterTextCleaner]]:
    cleaners: list[RouterTextCleaner] = []
    yield cleaners
    for cleaner in cleaners:
        cleaner.close()


def test_cleanup_waits_for_the_provider_and_resumes(engine: Engine,
                                                    made: list[RouterTextCleaner]) -> None:
    fake = FakeProvider("cheap", [down(), down(), FIXED])
    cleaner = RouterTextCleaner(router(engine, fake, cooldown_s=0.1),
                                wait=ProviderWait(max_wait_s=10, initial_s=0.05, cap_s=0.2))
    made.append(cleaner)
    assert cleaner.clean(NOISY) == FIXED
    assert len(fake.calls) == 3


def test_a_long_outage_keeps_the_ocr_text_after_a_bounded_wait(
        engine: Engine, made: list[RouterTextCleaner]) -> None:
    fake = FakeProvider("cheap", [down() for _ in range(20)])
    cleaner = RouterTextCleaner(router(engine, fake, cooldown_s=60),
                                wait=ProviderWait(max_wait_s=0.4, initial_s=0.05, cap_s=0.1))
    made.append(cleaner)
    started = time.monotonic()
    page = clean_page(PageText(page_no=1, text=NOISY, method="ocr"), cleaner)
    first = time.monotonic() - started
    assert page.cleanup == "skipped" and page.text == NOISY
    reason = page.cleanup_reason or ""
    assert "CleanupUnavailable" in reason and "kept the OCR text" in reason
    assert "waited" in reason and "circuit breakers open" in reason
    assert 0.4 <= first < 5 and len(fake.calls) == 1  # the breaker opened: no more calls

    started = time.monotonic()  # the same outage: the next page skips at once
    with pytest.raises(CleanupUnavailable):
        cleaner.clean(NOISY)
    assert time.monotonic() - started < 0.2 and len(fake.calls) == 1


def test_without_a_wait_an_outage_skips_at_once(engine: Engine,
                                                made: list[RouterTextCleaner]) -> None:
    fake = FakeProvider("cheap", [down()])
    cleaner = RouterTextCleaner(router(engine, fake, cooldown_s=60))
    made.append(cleaner)
    started = time.monotonic()
    with pytest.raises(CleanupUnavailable, match="waited 0 s"):
        cleaner.clean(NOISY)
    assert time.monotonic() - started < 1
