"""A golden set: questions with the documents and pages that answer them, read from JSONL.

One JSON object per line:

    {"question": "What was revenue in 2023?", "document": "report.pdf", "pages": [2],
     "answer": "$42.8 million"}
    {"question": "Who is the CEO?", "unanswerable": true}

`document` + `pages` (1-based, optional: any page of the document counts) name one expected
source; `expected: [{"document", "pages"}, ...]` names several, all of which recall counts.
`answer` (optional) is a short string the answer must contain. `unanswerable: true` marks an
on-topic question the documents do not answer: the right outcome is "insufficient evidence".
Blank lines and lines starting with `#` are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.errors import PipelineError

MAX_QUESTIONS = 1000


class InvalidGoldenSet(PipelineError):
    """A golden set that cannot be read: which line (1-based) and why."""

    code = "invalid_golden_set"
    http_status = 422


@dataclass(frozen=True)
class Expected:
    """One source that answers a question: a document by file name, some of its pages."""

    document: str
    pages: frozenset[int] = frozenset()

    def matches(self, filename: str, page_start: int, page_end: int) -> bool:
        """Whether a hit on `filename`, pages `page_start`..`page_end`, is this source."""
        if filename != self.document:
            return False
        return not self.pages or any(page_start <= p <= page_end for p in self.pages)


@dataclass(frozen=True)
class GoldenQuestion:
    """A question of the set with its expected sources and optional answer."""

    question: str
    expected: tuple[Expected, ...] = ()
    answer: str | None = None
    unanswerable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer,
                "unanswerable": self.unanswerable,
                "expected": [{"document": e.document, "pages": sorted(e.pages)}
                             for e in self.expected]}


def _expected(raw: Any, where: str) -> Expected:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("document"), str):
        raise ValueError(f"{where}: needs a \"document\" file name")
    pages = raw.get("pages") or []
    if not isinstance(pages, list) or not all(isinstance(p, int) and p >= 1 for p in pages):
        raise ValueError(f"{where}: \"pages\" must be a list of page numbers from 1")
    return Expected(raw["document"], frozenset(pages))


def golden_question(raw: Any) -> GoldenQuestion:
    """One question from its decoded JSON object; `ValueError` saying what is wrong."""
    if not isinstance(raw, Mapping):
        raise ValueError("each line must be a JSON object")
    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("\"question\" must be a non-empty string")
    unanswerable = raw.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise ValueError("\"unanswerable\" must be true or false")
    items = list(raw.get("expected") or [])
    if "document" in raw:
        items.append({"document": raw["document"], "pages": raw.get("pages")})
    expected = tuple(_expected(item, f"expected source {i + 1}") for i, item in enumerate(items))
    if not expected and not unanswerable:
        raise ValueError("name the \"document\" that answers it, or mark it \"unanswerable\"")
    if expected and unanswerable:
        raise ValueError("an unanswerable question has no expected document")
    answer = raw.get("answer")
    if answer is not None and (not isinstance(answer, str) or not answer.strip()):
        raise ValueError("\"answer\" must be a non-empty string")
    return GoldenQuestion(question.strip(), expected, answer, unanswerable)


def parse_golden(items: Iterable[Any]) -> list[GoldenQuestion]:
    """Decoded JSON objects → questions; `InvalidGoldenSet` naming the first bad one (1-based)."""
    questions: list[GoldenQuestion] = []
    for number, raw in enumerate(items, 1):
        try:
            questions.append(golden_question(raw))
        except ValueError as exc:
            raise InvalidGoldenSet(f"question {number}: {exc}", question=number) from None
    return _bounded(questions)


def _bounded(questions: list[GoldenQuestion]) -> list[GoldenQuestion]:
    if not questions:
        raise InvalidGoldenSet("the golden set has no questions")
    if len(questions) > MAX_QUESTIONS:
        raise InvalidGoldenSet(f"the golden set has more than {MAX_QUESTIONS} questions",
                               limit=MAX_QUESTIONS)
    return questions


def read_jsonl(text: str) -> list[GoldenQuestion]:
    """A JSONL golden set (see the module docstring); `InvalidGoldenSet` naming the line."""
    questions: list[GoldenQuestion] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            questions.append(golden_question(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InvalidGoldenSet(f"line {number}: not JSON ({exc.msg})", line=number) from None
        except ValueError as exc:
            raise InvalidGoldenSet(f"line {number}: {exc}", line=number) from None
    return _bounded(questions)
