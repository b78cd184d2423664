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
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, DateTime, Engine, delete, func, insert, select
from sqlalchemy import cast as sql_cast

from pipelines.llm.config import BudgetConfig
from pipelines.llm.errors import BudgetExceeded
from pipelines.llm.ledger import CallRecord, Ledger, UsageRow
from pipelines.llm.tables import LLMBudgetReservation, LLMCall

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


def _utc_day_start() -> ColumnElement[datetime]:
    utc_now = func.timezone("UTC", func.now())
    return sql_cast(func.timezone("UTC", func.date_trunc("day", utc_now)), DateTime(timezone=True))


class Budget:
    """Reserve, settle and report a tenant's daily LLM spend."""

    def __init__(self, engine: Engine, config: BudgetConfig, ledger: Ledger | None = None) -> None:
        self.engine = engine
        self.config = config
        self.ledger = ledger or Ledger(engine)

    def limit_for(self, tenant: str) -> float | None:
        return self.config.limit_for(tenant)

    def _status(self, conn: Connection, tenant: str, *, purge: bool = False) -> BudgetStatus:
        """Spent today and held by fresh reservations, in one round trip (optionally deleting
        the tenant's stale reservations in the same statement)."""
        cutoff = func.now() - timedelta(seconds=self.config.stale_reservation_s)
        spent = select(func.coalesce(func.sum(LLMCall.cost_usd), 0)).where(
            LLMCall.tenant_id == tenant, LLMCall.created_at >= _utc_day_start())
        held = select(func.coalesce(func.sum(LLMBudgetReservation.amount_usd), 0)).where(
            LLMBudgetReservation.tenant_id == tenant, LLMBudgetReservation.created_at > cutoff)
        stmt = select(spent.scalar_subquery(), held.scalar_subquery())
        if purge:
            stmt = stmt.add_cte(delete(LLMBudgetReservation).where(
                LLMBudgetReservation.tenant_id == tenant,
                LLMBudgetReservation.created_at <= cutoff,
            ).cte("purged"))
        spent_usd, held_usd = (float(v) for v in conn.execute(stmt).one())
        limit = self.limit_for(tenant)
        remaining = None if limit is None else max(0.0, limit - spent_usd - held_usd)
        return BudgetStatus(tenant, limit, spent_usd, held_usd, remaining)

    def reserve_sync(self, tenant: str, amount_usd: float) -> Reservation:
        limit = self.limit_for(tenant)
        if limit is None or amount_usd <= 0:
            return Reservation(tenant, max(amount_usd, 0.0))
        with self.engine.begin() as conn:
            # Serialise this tenant's reservations; a reservation lost in a database crash is
            # harmless (it would go stale anyway), so its commit need not wait for the disk.
            conn.execute(select(
                func.set_config("synchronous_commit", "off", True),
                func.pg_advisory_xact_lock(
                    func.hashtextextended("lectern.llm.budget:" + tenant, 0)),
            ))
            status = self._status(conn, tenant, purge=True)
            if status.spent_usd + status.reserved_usd + amount_usd > limit + _EPSILON:
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
            new_id = conn.execute(
                insert(LLMBudgetReservation)
                .values(tenant_id=tenant, amount_usd=amount_usd)
                .returning(LLMBudgetReservation.id)
            ).scalar_one()
        return Reservation(tenant, amount_usd, int(new_id))

    async def reserve(self, tenant: str, amount_usd: float) -> Reservation:
        """Hold `amount_usd` of today's budget, or raise BudgetExceeded (402) with the figures."""
        return await asyncio.to_thread(self.reserve_sync, tenant, amount_usd)

    def settle_sync(self, reservation: Reservation, record: CallRecord) -> None:
        with self.engine.begin() as conn:
            self.ledger.insert(conn, record)
            if reservation.id is not None:
                conn.execute(
                    delete(LLMBudgetReservation).where(LLMBudgetReservation.id == reservation.id)
                )

    async def settle(self, reservation: Reservation, record: CallRecord) -> None:
        """Book the attempt's ledger row (its actual cost) and drop the reservation, atomically."""
        await asyncio.to_thread(self.settle_sync, reservation, record)

    def release_sync(self, reservation: Reservation) -> None:
        if reservation.id is None:
            return
        with self.engine.begin() as conn:
            conn.execute(
                delete(LLMBudgetReservation).where(LLMBudgetReservation.id == reservation.id)
            )

    async def release(self, reservation: Reservation) -> None:
        """Drop a reservation without booking anything (the call never happened)."""
        await asyncio.to_thread(self.release_sync, reservation)

    def status_sync(self, tenant: str) -> BudgetStatus:
        with self.engine.connect() as conn:
            return self._status(conn, tenant)

    async def status(self, tenant: str) -> BudgetStatus:
        """Today's budget, spend, open reservations and what is left."""
        return await asyncio.to_thread(self.status_sync, tenant)

    async def summary(self, tenant: str, since: datetime) -> UsageSummary:
        """Today's budget status plus ledger usage since `since` (for GET /v1/usage)."""
        status = await self.status(tenant)
        rows = await self.ledger.summary(tenant, since)
        return UsageSummary(status, rows)
