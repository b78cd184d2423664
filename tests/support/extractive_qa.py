"""A small question set over `samples/` with known answers, for the extractive answerer.

Why here: the test of the answerer (`tests/pipelines/llm/test_extractive_samples.py`) and the
benchmark (`python -m bench.answers`, which asks them through the real ingest, search and
router) grade the same questions the same way. Each answerable question names a string the
*first* cited sentence must contain (the answer) and, optionally, strings that make a later
sentence on topic; any other later sentence is padding. The unanswerable questions are on the
samples' topics but not answered by them (a CEO, a year with no figures, employees, a
dividend); the answerer must say the sources do not contain the answer. The paraphrased
questions share few words with their answer: the answerer may answer them or say the sources
do not, but must not answer them wrongly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipelines.llm import ChatProvider
from pipelines.llm.providers.extractive import ExtractiveProvider, SentenceEmbedder

NOT_FOUND_OPENINGS = (
    "The sources do not contain enough information",  # the extractive answerer, answer@v1
    "Insufficient evidence",  # pipelines.answer: nothing passed the search threshold
)
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@dataclass(frozen=True)
class QA:
    """One question; `answer` None: the samples do not answer it. `paraphrase`: worded
    unlike its answer, so an honest "not in the sources" is acceptable too."""

    question: str
    answer: str | None
    related: tuple[str, ...] = ()
    paraphrase: bool = False


QUESTIONS: tuple[QA, ...] = (
    QA("What was revenue in 2023?", "$42.8 million"),
    QA("What was total revenue in 2024?", "$48.2 million"),
    QA("How much online revenue was there?", "$17.9 million"),
    QA("What was the gross margin?", "47.3%"),
    QA("What was the operating profit?", "$8.6 million"),
    QA("What was net profit after tax?", "$6.4 million"),
    QA("How many stores does Northwind Outfitters have?", "38"),
    QA("How many active members does the loyalty programme have?", "412,000"),
    QA("How much capital spending is planned for 2025?", "$5.1 million"),
    QA("What revenue growth does the board expect in 2025?", "8% to 10%"),
    QA("How much were operating costs?", "$39.6 million"),
    QA("What were staff costs?", "$14.2 million"),
    QA("How much cash does Northwind have?", "$9.7 million"),
    QA("What are the main risks?", "weak winter season"),
    QA("What was the total on the Greenleaf Market receipt?", "39.97"),
    QA("How much did the coffee beans cost?", "11.95"),
    QA("When is the weekly sync?", "Tuesday at 10:00"),
    QA("Who drafts the kiosk pilot plan?", "Priya"),
    QA("What did the company earn after tax?", "$6.4 million", paraphrase=True),
    QA("How much money does Northwind hold?", "$9.7 million", paraphrase=True),
    QA("What are the dangers facing the business?", "weak winter season", paraphrase=True),
    QA("Who is the CEO of Northwind Outfitters?", None),
    QA("What was revenue in 2019?", None),
    QA("How many employees does Northwind Outfitters have?", None),
    QA("What dividend per share was paid in 2024?", None),
    QA("What was the revenue in Scotland?", None),
)


def sentences_of(answer: str) -> list[str]:
    """The cited sentences of an answer, each up to and including its `[n]` (and the full
    stop after it); text after the last citation is one more piece."""
    pieces = [m.group(0).strip() for m in re.finditer(r".*?\[\d+\][.!?]?", answer, re.S)]
    rest = re.sub(r".*\[\d+\][.!?]?", "", answer, flags=re.S).strip()
    return [p for p in pieces if p] + ([rest] if rest else [])


def says_not_found(answer: str) -> bool:
    """Whether an answer says the sources do not answer the question."""
    return answer.strip().startswith(NOT_FOUND_OPENINGS)


def norm(text: str) -> str:
    """Lower-cased words only, for comparing sentences of an answer."""
    return " ".join(re.findall(r"\w+", text.lower()))


@dataclass(frozen=True)
class Grade:
    """How one answer did. `first_ok`: the first sentence holds the answer (answerable) or
    the answer says not found (unanswerable). `padding`: later sentences with neither the
    answer nor a related string. `duplicates`: sentences repeated within the answer.
    `excused`: a paraphrased question the answer honestly says it cannot answer."""

    first_ok: bool
    not_found: bool
    sentences: int
    padding: int
    duplicates: int
    excused: bool = False

    @property
    def ok(self) -> bool:
        """Right first sentence (or honest refusal), no padding, no repeats."""
        return (self.first_ok or self.excused) and self.padding == 0 and self.duplicates == 0


def grade(qa: QA, answer: str) -> Grade:
    """Grade `answer` to `qa` (see `Grade`)."""
    parts = sentences_of(answer)
    not_found = says_not_found(answer)
    texts = [norm(re.sub(r"\[\d+\]", "", p)) for p in parts]
    duplicates = len(texts) - len(set(texts))
    if qa.answer is None:
        return Grade(not_found, not_found, len(parts), 0, duplicates)
    wanted = (qa.answer, *qa.related)
    first_ok = not not_found and bool(parts) and qa.answer in parts[0]
    padding = 0 if not_found else sum(1 for p in parts[1:] if not any(w in p for w in wanted))
    return Grade(first_ok, not_found, len(parts), padding, duplicates,
                 excused=qa.paraphrase and not_found)


def sample_texts() -> dict[str, str]:
    """The exact text of every sample document, by its document's file name (the `.txt`
    files beside them; `note.md` is its own text)."""
    names = {"digital-report.pdf": "digital-report.txt", "scanned-report.pdf":
             "scanned-report.txt", "page.png": "page.txt", "receipt.png": "receipt.txt",
             "note.md": "note.md"}
    return {doc: (SAMPLES / text).read_text() for doc, text in names.items()}


def extractive_with_embedder(embedder: SentenceEmbedder, name: str = "extractive"
                             ) -> ChatProvider:
    """An `ExtractiveProvider` that blends `embedder`'s sentence cosines in. Here because
    outside `pipelines.llm` only its façade may be imported (the `facade-llm` contract) and
    the composition root builds the extractive provider without an embedder: the benchmark
    measures the seam through this helper."""
    return ExtractiveProvider(name, embedder=embedder)
