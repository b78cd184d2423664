"""The cost ledger: one `llm_calls` row per provider attempt or cache hit, and its summaries.

The ledger is the single source of truth for spend: budgets sum it, `/v1/usage` groups it.
Sync SQLAlchemy underneath; the async methods run it in a worker thread so the event loop
never waits on the database.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Integer, cast, func, insert, select

from core import ASYNC_COMMIT
from pipelines.llm.storage import LLMCall

Outcome = Literal["ok", "error", "fallback", "cancelled"]
_MAX_ERROR_CHARS = 2000
_INSERT = insert(LLMCall)  # built once: the per-call cost is then just the parameters


@dataclass(frozen=True)
class CallRecord:
    """What one attempt cost and how it went; `outcome="fallback"` means a later one took over."""

    request_id: str
    tenant: str
    task: str
    provider: str
    model: str
    tier: str
    prompt_version: str
    outcome: Outcome
    attempt: int = 1
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    ttft_ms: int | None = None
    cached: bool = False
    error: str | None = None


@dataclass(frozen=True)
class StoredCall(CallRecord):
    id: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True)
class UsageRow:
    """Usage of one (day, task, provider, model) group."""

    day: date
    task: str
    provider: str
    model: str
    calls: int
    errors: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class PromptUsageRow:
    """Usage of one (task, prompt version, model) group; `fallbacks` are attempts a later one
    took over from, `errors` attempts that failed outright."""

    task: str
    prompt_version: str
    model: str
    calls: int
    errors: int
    fallbacks: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def _record_fields(row: dict[str, Any]) -> dict[str, Any]:
    row["tenant"] = row.pop("tenant_id")
    return row


class Ledger:
    """Writes and reads `llm_calls`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def insert(conn: Connection, record: CallRecord) -> None:
        """Insert within the caller's transaction (budget settlement uses this), whose commit
        then does not wait for the disk (`ASYNC_COMMIT`)."""
        conn.execute(ASYNC_COMMIT)
        values = asdict(record)
        values["tenant_id"] = values.pop("tenant")
        if values["error"] is not None:
            values["error"] = values["error"][:_MAX_ERROR_CHARS]
        conn.execute(_INSERT, values)

    def record_sync(self, record: CallRecord) -> None:
        with self.engine.begin() as conn:
            self.insert(conn, record)

    async def record(self, record: CallRecord) -> None:
        """Append one row in its own transaction."""
        await asyncio.to_thread(self.record_sync, record)

    def calls_sync(self, *, request_id: str | None = None, tenant: str | None = None,
                   limit: int = 1000) -> list[StoredCall]:
        stmt = select(*LLMCall.__table__.c).order_by(LLMCall.id).limit(limit)
        if request_id is not None:
            stmt = stmt.where(LLMCall.request_id == request_id)
        if tenant is not None:
            stmt = stmt.where(LLMCall.tenant_id == tenant)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [StoredCall(**_record_fields(dict(r))) for r in rows]

    async def calls(self, *, request_id: str | None = None, tenant: str | None = None,
                    limit: int = 1000) -> list[StoredCall]:
        """Rows in insertion order, filtered by request and/or tenant."""
        return await asyncio.to_thread(
            self.calls_sync, request_id=request_id, tenant=tenant, limit=limit
        )

    def summary_sync(self, tenant: str, since: datetime) -> list[UsageRow]:
        day = func.date(func.timezone("UTC", LLMCall.created_at)).label("day")
        stmt = (
            select(
                day,
                LLMCall.task,
                LLMCall.provider,
                LLMCall.model,
                func.count().label("calls"),
                func.count().filter(LLMCall.outcome != "ok").label("errors"),
                func.count().filter(LLMCall.cached).label("cache_hits"),
                cast(func.sum(LLMCall.input_tokens), Integer).label("input_tokens"),
                cast(func.sum(LLMCall.output_tokens), Integer).label("output_tokens"),
                func.sum(LLMCall.cost_usd).label("cost_usd"),
            )
            .where(LLMCall.tenant_id == tenant, LLMCall.created_at >= since)
            .group_by(day, LLMCall.task, LLMCall.provider, LLMCall.model)
            .order_by(day, LLMCall.task, LLMCall.provider, LLMCall.model)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [UsageRow(**{**dict(r), "cost_usd": float(r["cost_usd"])}) for r in rows]

    async def summary(self, tenant: str, since: datetime) -> list[UsageRow]:
        """Usage grouped by UTC day, task, provider and model (for GET /v1/usage)."""
        return await asyncio.to_thread(self.summary_sync, tenant, since)

    def prompt_summary_sync(self, tenant: str, since: datetime) -> list[PromptUsageRow]:
        keys = (LLMCall.task, LLMCall.prompt_version, LLMCall.model)
        stmt = (
            select(
                *keys,
                func.count().label("calls"),
                func.count().filter(LLMCall.outcome == "error").label("errors"),
                func.count().filter(LLMCall.outcome == "fallback").label("fallbacks"),
                func.count().filter(LLMCall.cached).label("cache_hits"),
                cast(func.sum(LLMCall.input_tokens), Integer).label("input_tokens"),
                cast(func.sum(LLMCall.output_tokens), Integer).label("output_tokens"),
                func.sum(LLMCall.cost_usd).label("cost_usd"),
            )
            .where(LLMCall.tenant_id == tenant, LLMCall.created_at >= since)
            .group_by(*keys).order_by(*keys)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [PromptUsageRow(**{**dict(r), "cost_usd": float(r["cost_usd"])}) for r in rows]

    async def prompt_summary(self, tenant: str, since: datetime) -> list[PromptUsageRow]:
        """Usage grouped by task, prompt version (`answer@v1`) and model (GET /v1/usage)."""
        return await asyncio.to_thread(self.prompt_summary_sync, tenant, since)
