"""PostgreSQL tables of the LLM layer: cost ledger, budget reservations, answer cache.

They live in their own `DeclarativeBase` (pipelines/llm imports nothing else of the project),
with the same constraint naming convention the migrations spell out by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OUTCOMES = ("ok", "error", "fallback", "cancelled")
USD = Numeric(14, 8, asdecimal=False)


class LLMBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LLMCall(LLMBase):
    """One row per provider attempt or cache hit: the cost ledger behind budgets and /v1/usage."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        CheckConstraint("outcome IN ('ok', 'error', 'fallback', 'cancelled')", name="outcome"),
        Index("ix_llm_calls_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    request_id: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[str] = mapped_column(Text)
    task: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(Text)
    prompt_version: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    input_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    cost_usd: Mapped[float] = mapped_column(USD, server_default="0")
    latency_ms: Mapped[int] = mapped_column(Integer, server_default="0")
    ttft_ms: Mapped[int | None] = mapped_column(Integer)
    cached: Mapped[bool] = mapped_column(Boolean, server_default="false")
    outcome: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class LLMBudgetReservation(LLMBase):
    """Estimated cost held for a call in flight; deleted when the call is settled."""

    __tablename__ = "llm_budget_reservations"
    __table_args__ = (
        Index("ix_llm_budget_reservations_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(Text)
    amount_usd: Mapped[float] = mapped_column(USD)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class LLMAnswerCache(LLMBase):
    """Cached answers, per tenant, keyed by `cache.cache_key(...)`."""

    __tablename__ = "llm_answer_cache"
    __table_args__ = (Index("ix_llm_answer_cache_expires_at", "expires_at"),)

    tenant_id: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    prompt_version: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
