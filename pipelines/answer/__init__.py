"""Answering: a question → retrieved sources → a routed, streamed answer with citations.

Public API:

- `answer`, `collect`, `INSUFFICIENT_EVIDENCE`, `DEFAULT_MAX_CONTEXT_TOKENS`: the use case
  (`service`);
- `AnswerStream`: the events of one answer and the owner of its model call (`stream`);
- the events `Meta`, `Sources`, `Token`, `Handover`, `Usage`, `Done`, `AnswerError`, their union
  `AnswerEvent` and `TERMINAL_EVENTS` (`events`).
"""

from pipelines.answer.events import (
    TERMINAL_EVENTS,
    AnswerError,
    AnswerEvent,
    Done,
    Handover,
    Meta,
    Sources,
    Token,
    Usage,
)
from pipelines.answer.service import (
    DEFAULT_MAX_CONTEXT_TOKENS,
    INSUFFICIENT_EVIDENCE,
    answer,
    collect,
)
from pipelines.answer.stream import AnswerStream

__all__ = [
    "DEFAULT_MAX_CONTEXT_TOKENS",
    "INSUFFICIENT_EVIDENCE",
    "TERMINAL_EVENTS",
    "AnswerError",
    "AnswerEvent",
    "AnswerStream",
    "Done",
    "Handover",
    "Meta",
    "Sources",
    "Token",
    "Usage",
    "answer",
    "collect",
]
