"""Conversations: follow-up questions answered with the turns before them.

Public API:

- `answer_follow_up`, `stored_turns`: answering within a conversation (`service`);
- `Turn`, `Condensed`, `Condenser`, `condense_offline`, `refers_back`, `MAX_TURNS`: rewriting a
  follow-up into a stand-alone question (`condense`);
- `create_conversation`, `list_conversations`, `get_conversation`, `delete_conversation`,
  `add_turn`, `Thread`: the stored threads (`store`), and their tables `Conversation`,
  `ConversationTurn` (`tables`).
"""

from pipelines.conversation.condense import (
    MAX_TURNS,
    Condensed,
    Condenser,
    Turn,
    condense_offline,
    refers_back,
)
from pipelines.conversation.service import answer_follow_up, stored_turns
from pipelines.conversation.store import (
    Thread,
    add_turn,
    create_conversation,
    delete_conversation,
    get_conversation,
    list_conversations,
)
from pipelines.conversation.tables import Conversation, ConversationTurn

__all__ = [
    "MAX_TURNS",
    "Condensed",
    "Condenser",
    "Conversation",
    "ConversationTurn",
    "Thread",
    "Turn",
    "add_turn",
    "answer_follow_up",
    "condense_offline",
    "create_conversation",
    "delete_conversation",
    "get_conversation",
    "list_conversations",
    "refers_back",
    "stored_turns",
]
