"""RAG models: a chat conversation answered as a question over the tenant's corpus.

`lectern-rag` searches every collection of the tenant, `lectern-rag/<collection>` only that
one. The last message, which must be the user's, is the question; the user and assistant
messages before it are the earlier turns, handed to `pipelines.conversation.answer_follow_up`
as history, so a follow-up ("and in 2024?") is condensed into a question that stands alone
before retrieval, exactly as `/v1/ask` does with `history`. System messages are left out:
the answer prompt is lectern's own, and it is what makes the model cite `[n]`. Only the most
recent `MAX_TURNS` turns are kept (the condenser reads no more).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ingest.embedding import Embedder
from pipelines.answer import AnswerStream
from pipelines.chat.errors import InvalidChatRequest
from pipelines.conversation import MAX_TURNS, Turn, answer_follow_up
from pipelines.llm import Message, Router
from pipelines.search import Question, SearchGate
from retrieval.rerank import Reranking

RAG_MODEL = "lectern-rag"
"""The RAG model over all of a tenant's collections; `lectern-rag/<collection>` for one."""
MAX_QUESTION_CHARS = 4000
"""The longest question, as `/v1/ask` takes it."""
MAX_COLLECTION_CHARS = 200


@dataclass(frozen=True)
class RagModel:
    """A resolved RAG model name: the collection it searches (None: all of them)."""

    name: str
    collection: str | None = None


def resolve_rag(name: str) -> RagModel | None:
    """The RAG model `name` stands for, or None when it is no RAG model name."""
    if name == RAG_MODEL:
        return RagModel(name)
    collection = name.removeprefix(f"{RAG_MODEL}/")
    if collection != name and 0 < len(collection) <= MAX_COLLECTION_CHARS:
        return RagModel(name, collection)
    return None


def question_and_history(messages: Sequence[Message]) -> tuple[str, list[Turn]]:
    """The question (the last message, the user's) and the earlier turns, oldest first.

    A turn is a user message and the assistant message after it; consecutive user messages
    are joined, an assistant message without a question before it is left out, and so are
    system messages. Raises `InvalidChatRequest` when the last message is not a user's
    non-empty question of at most `MAX_QUESTION_CHARS`."""
    if not messages or messages[-1].role != "user":
        raise InvalidChatRequest("the last message must be the user's question",
                                 param="messages")
    question = messages[-1].content.strip()
    if not question:
        raise InvalidChatRequest("the question (the last message) is empty", param="messages")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidChatRequest(
            f"the question (the last message) is longer than {MAX_QUESTION_CHARS} characters",
            param="messages")
    turns: list[Turn] = []
    asked: list[str] = []
    for message in messages[:-1]:
        if message.role == "user":
            asked.append(message.content)
        elif message.role == "assistant" and asked:
            turns.append(Turn("\n".join(asked), message.content))
            asked = []
    return question, turns[-MAX_TURNS:]


async def answer_chat(
    session: Session, sessions: Callable[[], Session], *, tenant: str, model: RagModel,
    messages: Sequence[Message], embedder: Embedder, router: Router, request_id: str | None,
    gate: SearchGate | None = None, search_timeout_ms: int | None = None,
    reranking: Reranking | None = None,
) -> AnswerStream:
    """The answer to the conversation's last question, with `[n]` citations and sources.

    Raises `InvalidChatRequest` for a conversation that does not end in a question, and what
    `answer_follow_up` raises (402 budget, 503 no model, 502 provider) before any text."""
    question, history = question_and_history(messages)
    return await answer_follow_up(
        session, sessions, tenant=tenant, question=Question(question, collection=model.collection),
        history=history, conversation_id=None, embedder=embedder, router=router,
        request_id=request_id, gate=gate, search_timeout_ms=search_timeout_ms,
        reranking=reranking)
