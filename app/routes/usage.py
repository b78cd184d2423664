"""`GET /v1/usage?since=`: the tenant's LLM spend from the cost ledger, and today's budget.

Thin: `Budget.summary` reads the ledger (grouped by UTC day, task, provider and model) and
the budget status (limit, spent today, held by calls in flight, remaining), the same for each
per-task budget (`task_budgets`, by task; empty when none is configured), and the same usage
by task, prompt version (`answer@v1`) and model (`by_prompt`, summed per task in `by_task`);
this shapes them and adds totals. `since` is a date or an ISO date-time (naive means UTC);
the default is the start of the current UTC day, the window the daily budget applies to.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.deps import ContainerDep, TenantDep
from pipelines.llm import BudgetStatus, PromptUsageRow

router = APIRouter(prefix="/v1", tags=["usage"])


class BudgetOut(BaseModel):
    """Today's (UTC) budget; `budget_usd` and `remaining_usd` are null when unlimited."""

    budget_usd: float | None
    spent_usd: float
    reserved_usd: float
    remaining_usd: float | None


class UsageRowOut(BaseModel):
    """One (day, task, provider, model) group; `errors` counts attempts not `ok`."""

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


class TaskUsageOut(BaseModel):
    """One task (the endpoint's kind of call: `answer`, `extract`, `condense`...)."""

    task: str
    calls: int
    cost_usd: float


class UsageTotals(BaseModel):
    calls: int
    errors: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class UsageOut(BaseModel):
    tenant: str
    since: datetime
    budget: BudgetOut
    task_budgets: dict[str, BudgetOut]
    totals: UsageTotals
    rows: list[UsageRowOut]
    by_prompt: list[PromptUsageRow]
    by_task: list[TaskUsageOut]


def start_of_today() -> datetime:
    """00:00 UTC today."""
    return datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)


@router.get("/usage")
async def usage(
    container: ContainerDep,
    tenant: TenantDep,
    since: Annotated[datetime | None, Query(description="date or ISO date-time (UTC)")] = None,
) -> UsageOut:
    """Ledger usage since `since` (default: today, UTC) and the budget status."""
    start = since or start_of_today()
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    summary = await container.llm_router.budget.summary(tenant, start)
    rows = [UsageRowOut(day=r.day, task=r.task, provider=r.provider, model=r.model,
                        calls=r.calls, errors=r.errors, cache_hits=r.cache_hits,
                        input_tokens=r.input_tokens, output_tokens=r.output_tokens,
                        cost_usd=round(r.cost_usd, 8)) for r in summary.rows]
    totals = UsageTotals(
        calls=sum(r.calls for r in rows), errors=sum(r.errors for r in rows),
        cache_hits=sum(r.cache_hits for r in rows),
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
        cost_usd=round(sum(r.cost_usd for r in summary.rows), 8))
    tasks = {task: _budget_out(s) for task, s in summary.tasks.items()}
    by_prompt = [dataclasses.replace(p, cost_usd=round(p.cost_usd, 8)) for p in summary.prompts]
    return UsageOut(tenant=tenant, since=start, budget=_budget_out(summary.status),
                    task_budgets=tasks, totals=totals, rows=rows, by_prompt=by_prompt,
                    by_task=_by_task(by_prompt))


def _by_task(groups: list[PromptUsageRow]) -> list[TaskUsageOut]:
    calls: dict[str, int] = {}
    cost: dict[str, float] = {}
    for g in groups:
        calls[g.task] = calls.get(g.task, 0) + g.calls
        cost[g.task] = cost.get(g.task, 0.0) + g.cost_usd
    return [TaskUsageOut(task=t, calls=calls[t], cost_usd=round(cost[t], 8)) for t in sorted(calls)]


def _budget_out(s: BudgetStatus) -> BudgetOut:
    return BudgetOut(budget_usd=s.budget_usd, spent_usd=round(s.spent_usd, 8),
                     reserved_usd=round(s.reserved_usd, 8),
                     remaining_usd=None if s.remaining_usd is None else round(s.remaining_usd, 8))
