"""PostgreSQL tables of the LLM layer: cost ledger, budget reservations, answer caches (exact
and semantic).

They are declared on `core.Base` like every other table (pipelines/llm imports nothing of the
project but `core`), with the constraint naming convention the migrations spell out by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core import Base

OUTCOMES = ("ok", "error", "fallback", "cancelled")
QUESTION_DIMENSION = 384
"""Dimension of the semantic cache's question embeddings: the corpus embedder's (checked at
start-up by the composition root), written here because pipelines/llm does not import ingest."""
USD = Numeric(14, 8, asdecimal=False)


class LLMCall(Base):
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


class LLMBudgetReservation(Base):
    """Estimated cost held for a call in flight; deleted when the call is settled."""

    __tablename__ = "llm_budget_reservations"
    __table_args__ = (
        Index("ix_llm_budget_reservations_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(Text)
    task: Mapped[str | None] = mapped_column(Text)  # for the task budgets (0009)
    amount_usd: Mapped[float] = mapped_column(USD)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class LLMAnswerCache(Base):
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


class LLMSemanticCache(Base):
    """Answers found again by a similar question (`semantic_cache`): one row per cached answer,
    keyed like the exact cache; a lookup filters tenant, context, prompt version and tier, then
    compares the question embedding by cosine."""

    __tablename__ = "llm_semantic_cache"
    __table_args__ = (
        Index("ix_llm_semantic_cache_tenant_id_context_hash", "tenant_id", "context_hash"),
        Index("ix_llm_semantic_cache_expires_at", "expires_at"),
    )

    tenant_id: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    context_hash: Mapped[str] = mapped_column(Text)
    prompt_version: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    question: Mapped[str] = mapped_column(Text)
    guard: Mapped[str] = mapped_column(Text)  # semantic_cache.question_guard
    embedding: Mapped[list[float]] = mapped_column(Vector(QUESTION_DIMENSION))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
