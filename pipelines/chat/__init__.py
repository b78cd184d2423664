"""Chat: the use cases behind lectern's OpenAI-compatible API, independent of its wire format.

A chat request names a model. A RAG model answers the conversation as a question over the
tenant's corpus, with `[n]` citations and sources (`rag`: on top of
`pipelines.conversation`); a gateway model is a plain completion through the cost router,
with its fallback, breakers, budget, ledger and cache and without retrieval, carrying the
client's tools, tool messages, stop sequences and JSON mode to the models that take them
(`gateway`).

Public API:

- `resolve_model`, `list_models`, `tenant_collections`, `ModelCard`: model names (`catalog`);
- `RagModel`, `RAG_MODEL`, `answer_chat`, `question_and_history`: RAG models (`rag`);
- `Gateway`, `GatewayModel`, `route_request`, `TASK`, `PROMPT`, `TIER_PREFIX`: gateway
  models (`gateway`);
- `ChatStream`: a started router stream and its owner (`stream`);
- `UnknownModel` (404), `InvalidChatRequest` (400): the errors (`errors`).
"""

from pipelines.chat.catalog import ModelCard, list_models, resolve_model, tenant_collections
from pipelines.chat.errors import InvalidChatRequest, UnknownModel
from pipelines.chat.gateway import (
    PROMPT,
    TASK,
    TIER_PREFIX,
    Gateway,
    GatewayModel,
    route_request,
)
from pipelines.chat.rag import RAG_MODEL, RagModel, answer_chat, question_and_history
from pipelines.chat.stream import ChatStream

__all__ = [
    "PROMPT",
    "RAG_MODEL",
    "TASK",
    "TIER_PREFIX",
    "ChatStream",
    "Gateway",
    "GatewayModel",
    "InvalidChatRequest",
    "ModelCard",
    "RagModel",
    "UnknownModel",
    "answer_chat",
    "list_models",
    "question_and_history",
    "resolve_model",
    "route_request",
    "tenant_collections",
]
