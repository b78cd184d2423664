"""Per-tenant daily budgets in USD, enforced in PostgreSQL so every replica sees the same spend.

Before a paid call the router reserves its estimated cost; `reserve` takes a transaction-level
advisory lock keyed by tenant, so concurrent reservations of one tenant serialise and the check
"spent today + open reservations + this estimate <= budget" cannot be raced. After the call
`settle` writes the ledger row (the actual cost) and deletes the reservation in one
transaction. Reservations older than `stale_reservation_s` (a process that died mid-call) no
longer count and are purged. "Today" is the current UTC day, by the database's clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from pipelines.llm.config_model import BudgetConfig
from pipelines.llm.errors import BudgetExceeded
from pipelines.llm.ledger import CallRecord, Ledger, UsageRow

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
_RESERVE = text(f"""
    WITH purged AS (
      DELETE FROM llm_budget_reservations
      WHERE tenant_id = :tenant AND created_at <= now() - make_interval(secs => :stale_s)
    ), sums AS ({_SUMS}
    ), inserted AS (
      INSERT INTO llm_budget_reservations (tenant_id, amount_usd)
      SELECT :tenant, CAST(:amount AS numeric) FROM sums
      WHERE spent + held + CAST(:amount AS numeric) <= CAST(:limit AS numeric)
      RETURNING id
    )
    SELECT spent, held, (SELECT id FROM inserted) FROM sums
""")
_RELEASE = text("DELETE FROM llm_budget_reservations WHERE id = :id")

_EPSILON = 1e-9


@dataclass(frozen=True)
class Reservation:
    """Money held for one call in flight; `id` is None when nothing had to be held."""

    tenant: str
    amount_usd: float
    id: int | None = None


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


class Budget:
    """Reserve, settle and report a tenant's daily LLM spend."""

    def __init__(self, engine: Engine, config: BudgetConfig, ledger: Ledger | None = None) -> None:
        self.engine = engine
        self.config = config
        self.ledger = ledger or Ledger(engine)

    def limit_for(self, tenant: str) -> float | None:
        return self.config.limit_for(tenant)

    def _status_of(self, tenant: str, spent: Any, held: Any) -> BudgetStatus:
        spent_usd, held_usd = float(spent), float(held)
        limit = self.limit_for(tenant)
        remaining = None if limit is None else max(0.0, limit - spent_usd - held_usd)
        return BudgetStatus(tenant, limit, spent_usd, held_usd, remaining)

    def reserve_sync(self, tenant: str, amount_usd: float) -> Reservation:
        limit = self.limit_for(tenant)
        if limit is None or amount_usd <= 0:
            return Reservation(tenant, max(amount_usd, 0.0))
        params = {"tenant": tenant, "stale_s": self.config.stale_reservation_s}
        with self.engine.begin() as conn:
            # Serialise this tenant's reservations. A reservation lost in a database crash is
            # harmless (it would go stale anyway), so its commit need not wait for the disk.
            conn.execute(_LOCK, params)
            row = conn.execute(_RESERVE, {**params, "amount": amount_usd,
                                          "limit": limit + _EPSILON}).one()
        status = self._status_of(tenant, row[0], row[1])
        if row[2] is None:
            raise BudgetExceeded(
                f"daily LLM budget of ${limit:.2f} for tenant {tenant!r} cannot cover this "
                f"call (estimated ${amount_usd:.4f}; ${status.remaining_usd:.4f} left today)",
                tenant=tenant,
                budget_usd=limit,
                spent_usd=round(status.spent_usd, 6),
                reserved_usd=round(status.reserved_usd, 6),
                remaining_usd=round(status.remaining_usd or 0.0, 6),
                requested_usd=round(amount_usd, 6),
            )
        return Reservation(tenant, amount_usd, int(row[2]))

    async def reserve(self, tenant: str, amount_usd: float) -> Reservation:
        """Hold `amount_usd` of today's budget, or raise BudgetExceeded (402) with the figures."""
        return await asyncio.to_thread(self.reserve_sync, tenant, amount_usd)

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
        await asyncio.to_thread(self.release_sync, reservation)

    def status_sync(self, tenant: str) -> BudgetStatus:
        with self.engine.connect() as conn:
            spent, held = conn.execute(
                _STATUS, {"tenant": tenant, "stale_s": self.config.stale_reservation_s}).one()
        return self._status_of(tenant, spent, held)

    async def status(self, tenant: str) -> BudgetStatus:
        """Today's budget, spend, open reservations and what is left."""
        return await asyncio.to_thread(self.status_sync, tenant)

    async def summary(self, tenant: str, since: datetime) -> UsageSummary:
        """Today's budget status plus ledger usage since `since` (for GET /v1/usage)."""
        status = await self.status(tenant)
        rows = await self.ledger.summary(tenant, since)
        return UsageSummary(status, rows)
