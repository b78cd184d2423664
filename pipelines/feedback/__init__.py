"""Answers and their feedback: every finished answer under its id, its user's up or down, and
the comparison of a prompt's versions (variants) built on them.

Public API:

- `FinishedAnswer`, `record_answer`, `get_answer`, `give_feedback`, `get_feedback`,
  `Feedback`, `question_hash`, `AnswerNotFound` (`store`);
- `variant_report`, `VariantStats`: per version of a prompt, answers, feedback,
  insufficient-evidence rate, tokens, cost, latency p50/p95 (`report`);
- the tables `AnswerRow` (`answers`) and `AnswerFeedback` (`answer_feedback`), and `RATINGS`
  (`tables`).
"""

from pipelines.feedback.report import VariantStats, variant_report
from pipelines.feedback.store import (
    AnswerNotFound,
    Feedback,
    FinishedAnswer,
    get_answer,
    get_feedback,
    give_feedback,
    question_hash,
    record_answer,
)
from pipelines.feedback.tables import RATINGS, AnswerFeedback, AnswerRow

__all__ = [
    "RATINGS",
    "AnswerFeedback",
    "AnswerNotFound",
    "AnswerRow",
    "Feedback",
    "FinishedAnswer",
    "VariantStats",
    "get_answer",
    "get_feedback",
    "give_feedback",
    "question_hash",
    "record_answer",
    "variant_report",
]
