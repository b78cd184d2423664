"""Answers and feedback in PostgreSQL: record a finished answer, rate it, read it back.

Every read and write is tenant-checked: another tenant's answer is "not found" (404), never
"forbidden". Functions that write commit their own transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipelines.errors import PipelineError
from pipelines.feedback.tables import RATINGS, AnswerFeedback, AnswerRow


class AnswerNotFound(PipelineError):
    """No answer with this id in the caller's tenant (it may exist in another tenant)."""

    code = "answer_not_found"
    http_status = 404


def question_hash(question: str) -> str:
    """SHA-256 (hex) of the question with case and spacing folded: what "the same question"
    means for the answers table and for sticky variant assignment."""
    return hashlib.sha256(" ".join(question.lower().split()).encode()).hexdigest()


@dataclass(frozen=True)
class FinishedAnswer:
    """What is recorded of an answer when it ends (from its `meta` and `usage` events)."""

    answer_id: uuid.UUID
    tenant: str
    question: str
    prompt: str
    model: str | None = None
    provider: str | None = None
    insufficient_evidence: bool = False
    cached: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    conversation_id: uuid.UUID | None = None
    turn_id: int | None = None


@dataclass(frozen=True)
class Feedback:
    """A tenant's rating of one answer."""

    answer_id: uuid.UUID
    rating: str
    comment: str | None
    created_at: datetime


def record_answer(session: Session, answer: FinishedAnswer) -> None:
    """Insert the answer's row (an id seen twice keeps the first row)."""
    session.execute(insert(AnswerRow).values(
        id=answer.answer_id, tenant_id=answer.tenant, conversation_id=answer.conversation_id,
        turn_id=answer.turn_id, question_hash=question_hash(answer.question),
        prompt=answer.prompt, model=answer.model, provider=answer.provider,
        insufficient_evidence=answer.insufficient_evidence, cached=answer.cached,
        input_tokens=answer.input_tokens, output_tokens=answer.output_tokens,
        cost_usd=answer.cost_usd, latency_ms=answer.latency_ms,
    ).on_conflict_do_nothing(index_elements=["id"]))
    session.commit()


def get_answer(session: Session, *, tenant: str, answer_id: uuid.UUID) -> AnswerRow:
    """The tenant's answer; `AnswerNotFound` otherwise."""
    row = session.scalar(select(AnswerRow).where(AnswerRow.id == answer_id,
                                                 AnswerRow.tenant_id == tenant))
    if row is None:
        raise AnswerNotFound(f"no answer {answer_id}", answer_id=str(answer_id))
    return row


def get_feedback(session: Session, *, tenant: str, answer_id: uuid.UUID) -> Feedback | None:
    """The feedback on the tenant's answer, if any (`AnswerNotFound` for another's answer)."""
    get_answer(session, tenant=tenant, answer_id=answer_id)
    row = session.get(AnswerFeedback, answer_id)
    return None if row is None else Feedback(row.answer_id, row.rating, row.comment,
                                             row.created_at)


def give_feedback(session: Session, *, tenant: str, answer_id: uuid.UUID, rating: str,
                  comment: str | None = None) -> Feedback:
    """Store the rating ("up" or "down") of the tenant's answer, replacing earlier feedback;
    `AnswerNotFound` when the answer is not the tenant's."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}")
    get_answer(session, tenant=tenant, answer_id=answer_id)
    stmt = insert(AnswerFeedback).values(answer_id=answer_id, tenant_id=tenant, rating=rating,
                                         comment=comment)
    row = session.execute(stmt.on_conflict_do_update(
        index_elements=["answer_id"],
        set_={"rating": rating, "comment": comment, "created_at": func.now()},
    ).returning(AnswerFeedback.created_at)).one()
    session.commit()
    return Feedback(answer_id, rating, comment, row.created_at)
