"""`/v1/conversations`: the tenant's stored threads, for follow-up questions in `/v1/ask`.

Thin: create, list, read (with turns) and delete through `pipelines.conversation`; asking
within one is `POST /v1/ask` with its `conversation_id`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from app.deps import Limit, Offset, SessionDep, TenantDep
from app.fields import Text
from app.schemas import Listing, listing
from pipelines import conversation
from pipelines.conversation import Conversation, ConversationTurn

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


class NewConversation(BaseModel):
    """An optional title; without one, the first question becomes it."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[Text, Field(max_length=200)] = ""


class ConversationOut(BaseModel):
    """A conversation without its turns."""

    id: uuid.UUID
    title: str
    turn_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Conversation) -> ConversationOut:
        """Build from a `Conversation` row."""
        return cls(id=row.id, title=row.title, turn_count=row.turn_count,
                   created_at=row.created_at, updated_at=row.updated_at)


class TurnOut(BaseModel):
    """One exchange: the question as asked, the stand-alone question searched for, the answer
    and its sources."""

    ordinal: int
    question: str
    query: str
    answer: str
    sources: list[dict[str, Any]]
    created_at: datetime

    @classmethod
    def of(cls, row: ConversationTurn) -> TurnOut:
        """Build from a `ConversationTurn` row."""
        return cls(ordinal=row.ordinal, question=row.question, query=row.query,
                   answer=row.answer, sources=list(row.sources), created_at=row.created_at)


class ThreadOut(ConversationOut):
    """A conversation with its turns, oldest first."""

    turns: list[TurnOut]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_conversation(session: SessionDep, tenant: TenantDep,
                        body: NewConversation | None = None) -> ConversationOut:
    """Start a conversation; ask in it with `POST /v1/ask` and its `conversation_id`."""
    created = conversation.create_conversation(
        session, tenant=tenant, title=body.title if body is not None else "")
    return ConversationOut.of(created)


@router.get("")
def list_conversations(session: SessionDep, tenant: TenantDep, limit: Limit = 50,
                       offset: Offset = 0) -> Listing[ConversationOut]:
    """The tenant's conversations, newest first."""
    listed = conversation.list_conversations(session, tenant=tenant, limit=limit, offset=offset)
    return listing(listed, ConversationOut.of, limit=limit, offset=offset)


@router.get("/{conversation_id}")
def get_conversation(conversation_id: uuid.UUID, session: SessionDep,
                     tenant: TenantDep) -> ThreadOut:
    """One conversation with its turns (404 for unknown ids and other tenants' ids)."""
    thread = conversation.get_conversation(session, tenant=tenant,
                                           conversation_id=conversation_id)
    head = ConversationOut.of(thread.conversation)
    return ThreadOut(**head.model_dump(), turns=[TurnOut.of(t) for t in thread.turns])


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_conversation(conversation_id: uuid.UUID, session: SessionDep,
                        tenant: TenantDep) -> None:
    """Remove the conversation and its turns."""
    conversation.delete_conversation(session, tenant=tenant, conversation_id=conversation_id)
