"""Conversations per tenant in PostgreSQL: create, list, read with turns, delete, append.

Every function is tenant-checked: another tenant's conversation is "not found" (404), never
"forbidden". Functions that write commit their own transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ingest.store import Counted, list_newest
from pipelines.conversation.tables import Conversation, ConversationTurn
from pipelines.errors import ConversationNotFound

MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class Thread:
    """A conversation and its turns, oldest first."""

    conversation: Conversation
    turns: Sequence[ConversationTurn]


def create_conversation(session: Session, *, tenant: str, title: str = "") -> Conversation:
    """A new, empty conversation of the tenant."""
    conversation = Conversation(id=uuid.uuid4(), tenant_id=tenant, title=title, turn_count=0)
    session.add(conversation)
    session.commit()
    session.refresh(conversation)
    return conversation


def list_conversations(session: Session, *, tenant: str, limit: int = 50,
                       offset: int = 0) -> Counted[Conversation]:
    """A page of the tenant's conversations, newest first, with the count of all of them."""
    return list_newest(session, Conversation, tenant=tenant, equal={}, limit=limit,
                       offset=offset)


def get_conversation(session: Session, *, tenant: str, conversation_id: uuid.UUID) -> Thread:
    """The tenant's conversation with its turns; `ConversationNotFound` otherwise."""
    conversation = session.scalar(select(Conversation).where(
        Conversation.id == conversation_id, Conversation.tenant_id == tenant))
    if conversation is None:
        raise ConversationNotFound(f"no conversation {conversation_id}",
                                   conversation_id=str(conversation_id))
    turns = session.scalars(select(ConversationTurn).where(
        ConversationTurn.conversation_id == conversation_id).order_by(ConversationTurn.ordinal))
    return Thread(conversation, list(turns))


def delete_conversation(session: Session, *, tenant: str, conversation_id: uuid.UUID) -> None:
    """Remove the conversation and its turns; `ConversationNotFound` when it is not the
    tenant's."""
    deleted = session.scalar(delete(Conversation).where(
        Conversation.id == conversation_id, Conversation.tenant_id == tenant,
    ).returning(Conversation.id))
    if deleted is None:
        session.rollback()
        raise ConversationNotFound(f"no conversation {conversation_id}",
                                   conversation_id=str(conversation_id))
    session.commit()


def add_turn(session: Session, *, tenant: str, conversation_id: uuid.UUID, question: str,
             query: str, answer: str, sources: list[dict[str, Any]]) -> ConversationTurn:
    """Append a turn (numbered after the last one, under a row lock, so two answers finishing
    at once get consecutive ordinals); the first question becomes the title if it has none."""
    conversation = session.scalar(select(Conversation).where(
        Conversation.id == conversation_id, Conversation.tenant_id == tenant).with_for_update())
    if conversation is None:
        session.rollback()
        raise ConversationNotFound(f"no conversation {conversation_id}",
                                   conversation_id=str(conversation_id))
    turn = ConversationTurn(conversation_id=conversation_id, ordinal=conversation.turn_count,
                            question=question, query=query, answer=answer, sources=sources)
    session.add(turn)
    session.execute(update(Conversation).where(Conversation.id == conversation_id).values(
        turn_count=Conversation.turn_count + 1, updated_at=func.now(),
        title=conversation.title or question[:MAX_TITLE_CHARS]))
    session.commit()
    return turn
