"""Budgets, the cost ledger and the 0002 migration, on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Engine

from pipelines.llm.budget import Budget
from pipelines.llm.config_model import BudgetConfig
from pipelines.llm.errors import BudgetExceeded
from pipelines.llm.ledger import CallRecord, Ledger
from pipelines.llm.providers.fake import FakeProvider
from pipelines.llm.route_request import RouteRequest
from pipelines.llm.storage import (
    LLMAnswerCache,
    LLMBudgetReservation,
    LLMCall,
    LLMSemanticCache,
)
from tests.support.routing import MESSAGES, collect, config, router, tenant

VERSIONS = Path(__file__).parents[3] / "migrations/versions"
MIGRATION = VERSIONS / "2026_11_23_0002_llm.py"
LATER = (VERSIONS / "2026_12_04_0009_budget_tasks.py",  # later migrations of the LLM tables
         VERSIONS / "2026_12_04_0010_semantic_cache.py")


def record(t: str, cost: float, **over: object) -> CallRecord:
    fields: dict[str, object] = dict(
        request_id=uuid.uuid4().hex, tenant=t, task="answer", provider="p", model="m",
        tier="mid", prompt_version="answer@v1", outcome="ok", input_tokens=10,
        output_tokens=5, cost_usd=cost)
    fields.update(over)
    return CallRecord(**fields)  # type: ignore[arg-type]


async def test_reserve_settle_and_over_budget_details(engine: Engine) -> None:
    budget = Budget(engine, BudgetConfig(daily_usd=0.01))
    t = tenant()
    held = await budget.reserve(t, 0.004)
    assert held.id is not None and (await budget.status(t)).reserved_usd == pytest.approx(0.004)

    await budget.settle(held, record(t, 0.003))
    status = await budget.status(t)
    assert status.spent_usd == pytest.approx(0.003) and status.reserved_usd == 0.0
    assert status.remaining_usd == pytest.approx(0.007)

    with pytest.raises(BudgetExceeded) as info:
        await budget.reserve(t, 0.008)
    assert info.value.http_status == 402
    d = info.value.details
    assert (d["budget_usd"], d["spent_usd"], d["remaining_usd"]) == (
        0.01, pytest.approx(0.003), pytest.approx(0.007))
    await budget.release(await budget.reserve(t, 0.007))  # exactly the rest still fits
    assert (await budget.status(t)).reserved_usd == 0.0


async def test_concurrent_reservations_never_overspend(engine: Engine) -> None:
    budget = Budget(engine, BudgetConfig(daily_usd=0.01))
    t = tenant()
    results = await asyncio.gather(*(budget.reserve(t, 0.003) for _ in range(8)),
                                   return_exceptions=True)
    granted = [r for r in results if not isinstance(r, BaseException)]
    assert len(granted) == 3
    assert all(isinstance(r, BudgetExceeded) for r in results if isinstance(r, BaseException))


async def test_stale_reservations_and_other_tenants_do_not_count(engine: Engine) -> None:
    budget = Budget(engine, BudgetConfig(daily_usd=0.01, tenants={"vip": None},
                                         stale_reservation_s=60))
    t = tenant()
    with engine.begin() as conn:  # a crashed process left this behind 2 minutes ago
        conn.execute(sa.insert(LLMBudgetReservation).values(
            tenant_id=t, amount_usd=0.009, created_at=sa.func.now() - timedelta(minutes=2)))
    await budget.settle(await budget.reserve(tenant(), 0.009), record(tenant(), 0.009))
    held = await budget.reserve(t, 0.009)
    assert held.id is not None
    assert (await budget.reserve("vip", 1000.0)).id is None  # unlimited: nothing to hold


async def test_router_over_budget_without_downgrade_is_402(engine: Engine) -> None:
    cheap = FakeProvider("cheap", ["unused"])
    local = FakeProvider("local", ["unused"])
    cfg = config(budgets={"daily_usd": 0.001, "allow_downgrade": False})
    r = router(engine, cfg, {"cheap": cheap, "local": local})
    t = tenant()
    with pytest.raises(BudgetExceeded) as info:
        await collect(r.stream(RouteRequest("answer", t, MESSAGES, prompt="answer@v1")))
    assert info.value.details["budget_usd"] == 0.001
    assert info.value.details["remaining_usd"] == pytest.approx(0.001)
    assert not cheap.calls and not local.calls
    assert await Ledger(engine).calls(tenant=t) == []


async def test_router_over_budget_downgrades_to_a_cheaper_tier(engine: Engine) -> None:
    cheap = FakeProvider("cheap", ["unused"])
    local = FakeProvider("local", ["Local answer."])
    cfg = config(budgets={"daily_usd": 0.001, "allow_downgrade": True},
                 tasks={"answer": {"min_tier": "mid", "degrade": False}})
    r = router(engine, cfg, {"cheap": cheap, "local": local})
    t = tenant()
    done = await r.complete(RouteRequest("answer", t, MESSAGES, prompt="answer@v1"))
    assert (done.served.provider, done.served.tier, done.served.degraded) == ("local", "free", True)
    assert done.text == "Local answer." and not cheap.calls
    assert r.metrics.registry.get_sample_value(
        "lectern_llm_budget_refusals_total", {"task": "answer"}) == 1
    # Without the budget pressure, degrade=False keeps the free tier out.
    r2 = router(engine, config(tasks={"answer": {"min_tier": "mid", "degrade": False}}),
                {"local": local})
    assert r2.candidates("answer", MESSAGES)[0].degraded
    with pytest.raises(Exception, match="no healthy model"):
        await r2.complete(RouteRequest("answer", tenant(), MESSAGES, prompt="answer@v1"))


async def test_usage_summary_groups_by_day_task_provider_model(engine: Engine) -> None:
    ledger = Ledger(engine)
    t = tenant()
    await ledger.record(record(t, 0.002))
    await ledger.record(record(t, 0.001, outcome="fallback", error="boom"))
    await ledger.record(record(t, 0.0, cached=True, input_tokens=0, output_tokens=0))
    await ledger.record(record(t, 0.5, task="extract", model="big"))
    await ledger.record(record(tenant(), 9.0))  # another tenant
    summary = await Budget(engine, BudgetConfig(daily_usd=1.0), ledger).summary(
        t, datetime.now(UTC) - timedelta(days=1))
    rows = {(r.task, r.model): r for r in summary.rows}
    assert set(rows) == {("answer", "m"), ("extract", "big")}
    a = rows[("answer", "m")]
    assert (a.calls, a.errors, a.cache_hits, a.input_tokens, a.output_tokens) == (3, 1, 1, 20, 10)
    assert a.cost_usd == pytest.approx(0.003) and a.day == datetime.now(UTC).date()
    assert summary.status.spent_usd == pytest.approx(0.503)
    assert summary.status.remaining_usd == pytest.approx(0.497)


def _migration(path: Path = MIGRATION) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def scratch_engine(engine: Engine) -> Iterator[Engine]:
    """An empty database on the same server, dropped afterwards."""
    name = "llm_mig_" + uuid.uuid4().hex[:8]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    scratch = sa.create_engine(engine.url.set(database=name))
    try:
        yield scratch
    finally:
        scratch.dispose()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))


LLM_TABLES = sa.MetaData()
for _model in (LLMCall, LLMBudgetReservation, LLMAnswerCache, LLMSemanticCache):
    _model.__table__.to_metadata(LLM_TABLES)


def test_migration_matches_tables_and_downgrades(scratch_engine: Engine) -> None:
    migration = _migration()
    assert (migration.revision, migration.down_revision) == ("0002_llm", "0001_corpus")
    with scratch_engine.begin() as conn:
        ctx = MigrationContext.configure(conn)
        later = [_migration(path) for path in LATER]
        with Operations.context(ctx):
            migration.upgrade()
            for step in later:
                step.upgrade()
        assert compare_metadata(ctx, LLM_TABLES) == []
        with Operations.context(ctx):
            for step in reversed(later):
                step.downgrade()
            migration.downgrade()
        assert not set(LLM_TABLES.tables) & set(sa.inspect(conn).get_table_names())
        with Operations.context(ctx):
            migration.upgrade()
            for step in later:
                step.upgrade()
        assert set(LLM_TABLES.tables) <= set(sa.inspect(conn).get_table_names())
