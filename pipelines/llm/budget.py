"""Per-tenant daily budgets in USD, enforced in PostgreSQL so every replica sees the same spend.

Before a paid call the router reserves its estimated cost; `reserve` takes a transaction-level
advisory lock keyed by tenant, so concurrent reservations of one tenant serialise and the check
"spent today + open reservations + this estimate <= budget" cannot be raced. After the call
`settle` writes the ledger row (the actual cost) and deletes the reservation in one
transaction. Reservations older than `stale_reservation_s` (a process that died mid-call) no
longer count and are purged. "Today" is the current UTC day, by the database's clock.

A task may have a daily budget of its own per tenant (`budgets.tasks`, overridden for one tenant
by `budgets.tenant_tasks`), beside the tenant's:
the same reservation checks both under the same lock, over the ledger rows and reservations of
that task, and a refusal names the budget it hit (`details.budget`: "tenant" or "task").
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from pipelines.llm.config_model import BudgetConfig
from pipelines.llm.errors import BudgetExceeded
from pipelines.llm.ledger import CallRecord, Ledger, PromptUsageRow, UsageRow

# Hot-path SQL, written out: each runs in one round trip. `:stale_s` ages out reservations of
# crashed processes; the day starts at 00:00 UTC by the database clock.
_SUMS = """
    SELECT
      (SELECT coalesce(sum(cost_usd), 0) FROM llm_calls
        WHERE tenant_id = :tenant
          AND created_at >= timezone('UTC', date_trunc('day', timezone('UTC', now()))))
        AS spent,
      (SELECT coalesce(sum(amount_usd), 0) FROM llm_budget_reservations
        WHERE tenant_id = :tenant AND created_at > now() - make_interval(secs => :stale_s))
        AS held
"""
_STATUS = text(_SUMS)
_LOCK = text(
    "SELECT set_config('synchronous_commit', 'off', true),"
    " pg_advisory_xact_lock(hashtextextended('lectern.llm.budget:' || :tenant, 0))"
)
_DAY = "timezone('UTC', date_trunc('day', timezone('UTC', now())))"
_LIVE = "created_at > now() - make_interval(secs => :stale_s)"
_RESERVE = text(f"""
    WITH purged AS (
      DELETE FROM llm_budget_reservations
      WHERE tenant_id = :tenant AND created_at <= now() - make_interval(secs => :stale_s)
    ), sums AS ({_SUMS},
      (SELECT coalesce(sum(cost_usd), 0) FROM llm_calls
        WHERE tenant_id = :tenant AND task = CAST(:task AS text) AND created_at >= {_DAY})
        AS task_spent,
      (SELECT coalesce(sum(amount_usd), 0) FROM llm_budget_reservations
        WHERE tenant_id = :tenant AND task = CAST(:task AS text) AND {_LIVE})
        AS task_held
    ), inserted AS (
      INSERT INTO llm_budget_reservations (tenant_id, task, amount_usd)
      SELECT :tenant, CAST(:task AS text), CAST(:amount AS numeric) FROM sums
      WHERE (CAST(:limit AS numeric) IS NULL
             OR spent + held + CAST(:amount AS numeric) <= CAST(:limit AS numeric))
        AND (CAST(:task_limit AS numeric) IS NULL
             OR task_spent + task_held + CAST(:amount AS numeric) <= CAST(:task_limit AS numeric))
      RETURNING id
    )
    SELECT spent, held, task_spent, task_held, (SELECT id FROM inserted) FROM sums
""")
_TASK_STATUS = text(f"""
    SELECT t.task,
      (SELECT coalesce(sum(cost_usd), 0) FROM llm_calls
        WHERE tenant_id = :tenant AND task = t.task AND created_at >= {_DAY}) AS spent,
      (SELECT coalesce(sum(amount_usd), 0) FROM llm_budget_reservations
        WHERE tenant_id = :tenant AND task = t.task AND {_LIVE}) AS held
    FROM unnest(CAST(:tasks AS text[])) AS t(task)
""")
_RELEASE = text("DELETE FROM llm_budget_reservations WHERE id = :id")

_EPSILON = 1e-9


@dataclass(frozen=True)
class Reservation:
    """Money held for one call in flight; `id` is None when nothing had to be held."""

    tenant: str
    amount_usd: float
    id: int | None = None
    task: str | None = None


@dataclass(frozen=True)
class BudgetStatus:
    tenant: str
    budget_usd: float | None
    spent_usd: float
    reserved_usd: float
    remaining_usd: float | None


@dataclass(frozen=True)
class UsageSummary:
    status: BudgetStatus
    rows: list[UsageRow]
    tasks: dict[str, BudgetStatus] = field(default_factory=dict)
    prompts: list[PromptUsageRow] = field(default_factory=list)


class Budget:
    """Reserve, settle and report a tenant's daily LLM spend."""

    def __init__(self, engine: Engine, config: BudgetConfig, ledger: Ledger | None = None) -> None:
        self.engine = engine
        self.config = config
        self.ledger = ledger or Ledger(engine)

    def limit_for(self, tenant: str) -> float | None:
        return self.config.limit_for(tenant)

    def _status_of(self, tenant: str, spent: Any, held: Any, limit: float | None = None,
                   *, task: str | None = None) -> BudgetStatus:
        spent_usd, held_usd = float(spent), float(held)
        if task is None:
            limit = self.limit_for(tenant)
        remaining = None if limit is None else max(0.0, limit - spent_usd - held_usd)
        return BudgetStatus(tenant, limit, spent_usd, held_usd, remaining)

    def reserve_sync(self, tenant: str, amount_usd: float, task: str | None = None
                     ) -> Reservation:
        limit = self.limit_for(tenant)
        task_limit = self.config.task_limit(task, tenant)
        if (limit is None and task_limit is None) or amount_usd <= 0:
            return Reservation(tenant, max(amount_usd, 0.0), task=task)
        params = {"tenant": tenant, "stale_s": self.config.stale_reservation_s}
        with self.engine.begin() as conn:
            # Serialise this tenant's reservations. A reservation lost in a database crash is
            # harmless (it would go stale anyway), so its commit need not wait for the disk.
            conn.execute(_LOCK, params)
            row = conn.execute(_RESERVE, {
                **params, "amount": amount_usd, "task": task,
                "limit": None if limit is None else limit + _EPSILON,
                "task_limit": None if task_limit is None else task_limit + _EPSILON}).one()
        if row[4] is not None:
            return Reservation(tenant, amount_usd, int(row[4]), task=task)
        status = self._status_of(tenant, row[0], row[1])
        if limit is None or status.spent_usd + status.reserved_usd + amount_usd <= limit + _EPSILON:
            # The tenant's budget had room: the task's budget refused.
            status = self._status_of(tenant, row[2], row[3], task_limit, task=task)
            raise _refusal(f"daily LLM budget of ${task_limit:.2f} for task {task!r} of tenant "
                           f"{tenant!r}", status, amount_usd, budget="task", task=task)
        raise _refusal(f"daily LLM budget of ${limit:.2f} for tenant {tenant!r}", status,
                       amount_usd, budget="tenant", task=task)

    async def reserve(self, tenant: str, amount_usd: float, task: str | None = None
                      ) -> Reservation:
        """Hold `amount_usd` of today's budgets (the tenant's and, if it has one, `task`'s),
        or raise BudgetExceeded (402) with the figures of the budget that refused."""
        if self.limit_for(tenant) is None and self.config.task_limit(task, tenant) is None:
            return Reservation(tenant, max(amount_usd, 0.0), task=task)  # no thread, no query
        return await asyncio.to_thread(self.reserve_sync, tenant, amount_usd, task)

    def settle_sync(self, reservation: Reservation, record: CallRecord) -> None:
        with self.engine.begin() as conn:
            self.ledger.insert(conn, record)
            if reservation.id is not None:
                conn.execute(_RELEASE, {"id": reservation.id})

    async def settle(self, reservation: Reservation, record: CallRecord) -> None:
        """Book the attempt's ledger row (its actual cost) and drop the reservation, atomically."""
        await asyncio.to_thread(self.settle_sync, reservation, record)

    def release_sync(self, reservation: Reservation) -> None:
        if reservation.id is None:
            return
        with self.engine.begin() as conn:
            conn.execute(_RELEASE, {"id": reservation.id})

    async def release(self, reservation: Reservation) -> None:
        """Drop a reservation without booking anything (the call never happened)."""
        if reservation.id is not None:
            await asyncio.to_thread(self.release_sync, reservation)

    def status_sync(self, tenant: str) -> BudgetStatus:
        with self.engine.connect() as conn:
            spent, held = conn.execute(
                _STATUS, {"tenant": tenant, "stale_s": self.config.stale_reservation_s}).one()
        return self._status_of(tenant, spent, held)

    async def status(self, tenant: str) -> BudgetStatus:
        """Today's budget, spend, open reservations and what is left."""
        return await asyncio.to_thread(self.status_sync, tenant)

    def task_statuses_sync(self, tenant: str) -> dict[str, BudgetStatus]:
        tasks = self.config.budgeted_tasks(tenant)
        if not tasks:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(_TASK_STATUS, {"tenant": tenant, "tasks": tasks,
                                               "stale_s": self.config.stale_reservation_s})
            limit = self.config.task_limit
            return {r[0]: self._status_of(tenant, r[1], r[2], limit(r[0], tenant), task=r[0])
                    for r in rows}

    async def summary(self, tenant: str, since: datetime) -> UsageSummary:
        """Today's budget status, each task budget's, plus ledger usage since `since` (for
        GET /v1/usage)."""
        status = await self.status(tenant)
        rows = await self.ledger.summary(tenant, since)
        tasks = await asyncio.to_thread(self.task_statuses_sync, tenant)
        return UsageSummary(status, rows, tasks, await self.ledger.prompt_summary(tenant, since))


def _refusal(what: str, status: BudgetStatus, amount_usd: float, *, budget: str,
             task: str | None) -> BudgetExceeded:
    """The 402 for a refused reservation, with the figures of the budget that refused it."""
    return BudgetExceeded(
        f"{what} cannot cover this call (estimated ${amount_usd:.4f}; "
        f"${status.remaining_usd or 0.0:.4f} left today)",
        tenant=status.tenant, budget=budget, task=task,
        budget_usd=status.budget_usd,
        spent_usd=round(status.spent_usd, 6),
        reserved_usd=round(status.reserved_usd, 6),
        remaining_usd=round(status.remaining_usd or 0.0, 6),
        requested_usd=round(amount_usd, 6),
    )
