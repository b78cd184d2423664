"""Helpers shared by the router, budget and cache tests: a config, a fake clock, a router."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from pipelines.llm import (
    AnswerCache,
    Budget,
    ChatProvider,
    Ledger,
    LLMConfig,
    LLMMetrics,
    Message,
    Router,
    RouterEvent,
    parse_config,
)

MESSAGES = (Message("system", "Answer from the sources."), Message("user", "Question: why?"))


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def config(**sections: Any) -> LLMConfig:
    """cheap (mid), pricey (premium) and local (free) models, each on its own provider."""
    raw: dict[str, Any] = {
        "providers": {"cheap": {"kind": "fake"}, "pricey": {"kind": "fake"},
                      "local": {"kind": "fake"}},
        "models": [
            {"id": "cheap-1", "provider": "cheap", "tier": "mid",
             "price_in_per_mtok": 1.0, "price_out_per_mtok": 2.0},
            {"id": "pricey-1", "provider": "pricey", "tier": "premium",
             "price_in_per_mtok": 10.0, "price_out_per_mtok": 20.0},
            {"id": "local-1", "provider": "local", "tier": "free"},
        ],
        "breaker": {"failures_to_open": 2, "cooldown_s": 30},
    }
    raw.update(sections)
    return parse_config(raw, {})


def tenant() -> str:
    return "t-" + uuid.uuid4().hex[:10]


def router(engine: Engine, cfg: LLMConfig, providers: Mapping[str, ChatProvider], *,
           clock: FakeClock | None = None, with_cache: bool = False) -> Router:
    ledger = Ledger(engine)
    return Router(cfg, providers, budget=Budget(engine, cfg.budgets, ledger), ledger=ledger,
                  metrics=LLMMetrics(CollectorRegistry()), clock=clock or FakeClock(),
                  cache=AnswerCache(engine) if with_cache else None)


async def collect(events: Any) -> list[RouterEvent]:
    return [e async for e in events]
