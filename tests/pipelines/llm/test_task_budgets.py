"""Per-task budgets per tenant (`[budgets.tasks]`), beside the tenant's daily budget: the same
reservation under the tenant's lock, downgrade-or-402, and an error naming the budget hit."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine

from pipelines.llm.budget import Budget
from pipelines.llm.config_model import BudgetConfig
from pipelines.llm.errors import BudgetExceeded, ConfigError
from pipelines.llm.ledger import CallRecord
from pipelines.llm.providers.fake import FakeProvider
from pipelines.llm.route_request import RouteRequest
from tests.support.routing import MESSAGES, config, router, tenant


def spent(t: str, task: str, cost: float) -> CallRecord:
    return CallRecord(request_id=uuid.uuid4().hex, tenant=t, task=task, provider="p",
                      model="m", tier="mid", prompt_version=f"{task}@v1", outcome="ok",
                      cost_usd=cost)


async def test_a_task_budget_refuses_while_the_tenant_budget_has_room(engine: Engine) -> None:
    budget = Budget(engine, BudgetConfig(daily_usd=1.0, tasks={"extract": 0.01}))
    t = tenant()
    await budget.ledger.record(spent(t, "extract", 0.006))
    held = await budget.reserve(t, 0.003, "extract")  # 0.006 + 0.003 fits in 0.01
    assert held.task == "extract" and held.id is not None

    with pytest.raises(BudgetExceeded) as info:
        await budget.reserve(t, 0.002, "extract")  # the open reservation counts too
    d = info.value.details
    assert info.value.http_status == 402 and (d["budget"], d["task"]) == ("task", "extract")
    assert (d["budget_usd"], d["spent_usd"], d["reserved_usd"]) == (
        0.01, pytest.approx(0.006), pytest.approx(0.003))
    assert d["remaining_usd"] == pytest.approx(0.001)
    assert "task 'extract'" in info.value.message

    await budget.release(await budget.reserve(t, 0.5, "answer"))  # other tasks: tenant only
    await budget.release(held)
    await budget.release(await budget.reserve(t, 0.004, "extract"))
    statuses = budget.task_statuses_sync(t)
    assert statuses["extract"].budget_usd == 0.01
    assert statuses["extract"].remaining_usd == pytest.approx(0.004)


async def test_the_tenant_budget_is_named_when_it_is_the_one_hit(engine: Engine) -> None:
    budget = Budget(engine, BudgetConfig(daily_usd=0.01, tasks={"extract": 5.0}))
    t = tenant()
    await budget.ledger.record(spent(t, "answer", 0.009))
    with pytest.raises(BudgetExceeded) as info:
        await budget.reserve(t, 0.002, "extract")
    assert (info.value.details["budget"], info.value.details["budget_usd"]) == ("tenant", 0.01)


async def test_without_a_tenant_budget_a_task_budget_still_holds(engine: Engine) -> None:
    budget = Budget(engine, BudgetConfig(tasks={"classify": 0.001}))
    t = tenant()
    with pytest.raises(BudgetExceeded) as info:
        await budget.reserve(t, 0.002, "classify")
    assert info.value.details["budget"] == "task"
    free = await budget.reserve(t, 0.002, "answer")
    assert free.id is None  # nothing to hold: no budget applies


async def test_router_refuses_with_402_naming_the_task_budget(engine: Engine) -> None:
    cheap = FakeProvider("cheap", ["never sent"])
    cfg = config(budgets={"daily_usd": 10.0, "allow_downgrade": False,
                          "tasks": {"answer": 0.0001}})
    r = router(engine, cfg, {"cheap": cheap, "pricey": FakeProvider("pricey")})
    with pytest.raises(BudgetExceeded) as info:
        await r.complete(RouteRequest("answer", tenant(), MESSAGES, prompt="answer@v1"))
    assert (info.value.details["budget"], info.value.details["task"]) == ("task", "answer")
    assert not cheap.calls


async def test_router_downgrades_to_a_free_model_when_the_task_budget_is_spent(
        engine: Engine) -> None:
    cheap, local = FakeProvider("cheap", ["paid"]), FakeProvider("local", ["Free answer.", "ok"])
    cfg = config(budgets={"tasks": {"answer": 0.0001}})
    r = router(engine, cfg, {"cheap": cheap, "local": local})
    t = tenant()
    reply = await r.complete(RouteRequest("answer", t, MESSAGES, prompt="answer@v1"))
    assert reply.text == "Free answer." and reply.served.model == "local-1"
    assert reply.served.degraded and not cheap.calls
    other = await r.complete(RouteRequest("classify", t, MESSAGES, prompt="classify@v1"))
    assert other.served.model == "local-1"  # classify: any tier, cheapest first anyway


def test_an_unknown_task_in_budgets_tasks_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"budgets\.tasks\.summarise"):
        config(budgets={"tasks": {"summarise": 1.0}})
    with pytest.raises(ConfigError, match=r"budgets\.tasks\.extract"):
        config(budgets={"tasks": {"extract": -1.0}})


async def test_a_tenant_may_have_its_own_task_budgets(engine: Engine) -> None:
    big, free, other = tenant(), tenant(), tenant()
    budget = Budget(engine, BudgetConfig(
        tasks={"extract": 0.001},
        tenant_tasks={big: {"extract": 1.0, "answer": 0.002}, free: {"extract": float("inf")}}))
    await budget.release(await budget.reserve(big, 0.5, "extract"))  # its own, larger limit
    with pytest.raises(BudgetExceeded) as info:
        await budget.reserve(big, 0.003, "answer")  # a task only this tenant has a budget for
    assert (info.value.details["budget"], info.value.details["budget_usd"]) == ("task", 0.002)
    assert (await budget.reserve(free, 5.0, "extract")).id is None  # no task limit at all
    with pytest.raises(BudgetExceeded):
        await budget.reserve(other, 0.002, "extract")  # everyone else: the shared one
    assert sorted(budget.task_statuses_sync(big)) == ["answer", "extract"]
    assert budget.task_statuses_sync(free) == {}
    with pytest.raises(ConfigError, match=r"budgets\.tenant_tasks\.acme\.summarise"):
        config(budgets={"tenant_tasks": {"acme": {"summarise": 1.0}}})
