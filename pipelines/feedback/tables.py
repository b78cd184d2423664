"""The tables of answers and their feedback: one row per finished answer, one rating per answer.

An answer row keeps who answered and with which prompt version (the variant), whether the
answer was the insufficient-evidence one, its tokens, cost and latency, so that prompt
versions can be compared (`report`); a feedback row is the user's up or down on one answer,
replaced by later feedback. No foreign key to conversations: deleting a thread keeps the
figures of its answers.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from core import Base

RATINGS = ("up", "down")
USD = Numeric(14, 8, asdecimal=False)


class AnswerRow(Base):
    """One finished answer of a tenant (`id` is the `answer_id` of its `meta` event)."""

    __tablename__ = "answers"
    __table_args__ = (Index(None, "tenant_id", "prompt", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(Text)
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    turn_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    question_hash: Mapped[str] = mapped_column(Text)
    prompt: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text, nullable=True)
    provider: Mapped[str | None] = mapped_column(Text, nullable=True)
    insufficient_evidence: Mapped[bool] = mapped_column(Boolean, server_default="false")
    cached: Mapped[bool] = mapped_column(Boolean, server_default="false")
    input_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    cost_usd: Mapped[float] = mapped_column(USD, server_default="0")
    latency_ms: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AnswerFeedback(Base):
    """The tenant's rating of one answer; at most one per answer (later feedback replaces it)."""

    __tablename__ = "answer_feedback"
    __table_args__ = (CheckConstraint("rating IN ('up', 'down')", name="rating"),)

    answer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(Text)
    rating: Mapped[str] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
