"""`/v1/answers/{id}`: a finished answer's record, and the user's feedback on it.

Thin: `pipelines.feedback` reads the answer (`GET`) and stores one rating per answer (`POST
.../feedback`: up or down with an optional comment; later feedback replaces it). The id is the
`answer_id` of the answer's `meta` event (and of the JSON answer); an id of another tenant, or
of an answer that broke before `done`, is 404 `answer_not_found`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.deps import SessionDep, TenantDep
from app.fields import Text
from pipelines import feedback

router = APIRouter(prefix="/v1/answers", tags=["feedback"])


class FeedbackBody(BaseModel):
    """Thumbs up or down, and an optional comment."""

    model_config = ConfigDict(extra="forbid")

    rating: Literal["up", "down"]
    comment: Annotated[Text | None, Field(max_length=2000)] = None


class FeedbackOut(BaseModel):
    """The feedback stored for one answer."""

    answer_id: uuid.UUID
    rating: str
    comment: str | None
    created_at: datetime

    @classmethod
    def of(cls, given: feedback.Feedback) -> FeedbackOut:
        """Build from the pipeline's `Feedback`."""
        return cls(answer_id=given.answer_id, rating=given.rating, comment=given.comment,
                   created_at=given.created_at)


class AnswerOut(BaseModel):
    """What was recorded of an answer: its prompt version (`prompt`: the variant), model,
    figures, and the feedback on it (null when none)."""

    id: uuid.UUID
    conversation_id: uuid.UUID | None
    turn_id: int | None
    question_hash: str
    prompt: str
    model: str | None
    provider: str | None
    insufficient_evidence: bool
    cached: bool
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: int
    created_at: datetime
    feedback: FeedbackOut | None


@router.get("/{answer_id}")
def get_answer(answer_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> AnswerOut:
    """One answer of the tenant, with its feedback (404 for other tenants' ids)."""
    row = feedback.get_answer(session, tenant=tenant, answer_id=answer_id)
    given = feedback.get_feedback(session, tenant=tenant, answer_id=answer_id)
    return AnswerOut(
        id=row.id, conversation_id=row.conversation_id, turn_id=row.turn_id,
        question_hash=row.question_hash, prompt=row.prompt, model=row.model,
        provider=row.provider, insufficient_evidence=row.insufficient_evidence,
        cached=row.cached, input_tokens=row.input_tokens, output_tokens=row.output_tokens,
        cost_usd=round(row.cost_usd, 8), latency_ms=row.latency_ms, created_at=row.created_at,
        feedback=None if given is None else FeedbackOut.of(given))


@router.post("/{answer_id}/feedback")
def give_feedback(answer_id: uuid.UUID, body: FeedbackBody, session: SessionDep,
                  tenant: TenantDep) -> FeedbackOut:
    """Rate the answer up or down (one rating per answer: this replaces an earlier one)."""
    return FeedbackOut.of(feedback.give_feedback(session, tenant=tenant, answer_id=answer_id,
                                                 rating=body.rating, comment=body.comment))
