"""Helpers for extraction tests: a real Router over the real `openai` SDK, pointed at the
scripted OpenAI-protocol server, with the real budget and ledger on the test database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from pipelines.llm import (
    Budget,
    Ledger,
    LLMConfig,
    LLMMetrics,
    Router,
    build_providers,
    parse_config,
)
from tests.support.scripted_openai import ScriptedOpenAI

PRIMARY = "primary-model"
BACKUP = "backup-model"
RECEIPT_PAGES = (
    "BOOK TA .K (TAMAN DAYA) SDN BHD\nNO.53 55,57 & 59, JALAN SAGU 18,\nTAMAN DAYA,\n"
    "81100 JOHOR BAHRU,\nJOHOR.\nDOCUMENT NO : TD01167104\nDATE: 25/12/2018 8:13:39 PM",
    "KF MODELLING CLAY KIDDY FISH 1 PC * 9.000\nTOTAL: 9.00\nCASH 10.00\nCHANGE 1.00",
)
GOOD_RECEIPT = {"company": "BOOK TA .K (TAMAN DAYA) SDN BHD", "date": "25/12/2018",
                "address": "NO.53 55,57 & 59, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU, "
                           "JOHOR.", "total": "RM 9.00"}


def tenant() -> str:
    return "x-" + uuid.uuid4().hex[:10]


def llm_config(server: ScriptedOpenAI, *, backup: bool = False, mode: str = "json_schema",
               context_tokens: int = 8192, **sections: Any) -> LLMConfig:
    """One mid-tier model on the scripted server (and a premium backup on it if asked)."""
    providers: dict[str, Any] = {"primary": {
        "kind": "openai-compatible", "base_url": server.base_url, "api_key": "k",
        "options": {"structured_mode": mode}}}
    models: list[dict[str, Any]] = [{
        "id": PRIMARY, "provider": "primary", "tier": "mid", "price_in_per_mtok": 1.0,
        "price_out_per_mtok": 2.0, "context_tokens": context_tokens,
        "max_output_tokens": 512}]
    if backup:
        providers["backup"] = {**providers["primary"]}
        models.append({"id": BACKUP, "provider": "backup", "tier": "premium",
                       "price_in_per_mtok": 5.0, "price_out_per_mtok": 10.0})
    raw: dict[str, Any] = {"providers": providers, "models": models,
                           "budgets": {"daily_usd": 5.0}, **sections}
    return parse_config(raw, {})


@asynccontextmanager
async def scripted_router(engine: Engine, config: LLMConfig) -> AsyncIterator[Router]:
    """A Router over providers built from `config` (closed afterwards)."""
    providers, skipped = build_providers(config, {})
    assert not skipped, skipped
    ledger = Ledger(engine)
    router = Router(config, providers, budget=Budget(engine, config.budgets, ledger),
                    ledger=ledger, metrics=LLMMetrics(CollectorRegistry()))
    try:
        yield router
    finally:
        for provider in providers.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()


def user_text(body: dict[str, Any]) -> str:
    """Everything the request said, system and user messages joined."""
    return "\n".join(str(m.get("content", "")) for m in body["messages"])
