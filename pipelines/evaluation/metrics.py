"""Retrieval and answer metrics of one golden-set run, and how a run compares with the last.

Per answerable question, over the hits in rank order: `recall@5`/`recall@10` are the share of
its expected sources found among the first 5/10 hits; `mrr` is 1/rank of the first hit that
is an expected source; `ndcg@10` counts each expected source once, at the first rank that
finds it (binary gain, ideal = all expected sources at the top). `insufficient_evidence` is
the share of answerable questions with no hit at all above the threshold (lower is better),
`unanswerable_refused` the share of unanswerable questions that got none, and
`answer_containment` the share of questions with an `answer` whose answer text contains it
(case and spacing aside).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipelines.evaluation.golden import GoldenQuestion

HIGHER_IS_BETTER = ("recall@5", "recall@10", "mrr", "ndcg@10", "unanswerable_refused",
                    "answer_containment")
LOWER_IS_BETTER = ("insufficient_evidence",)


@dataclass(frozen=True)
class RankedHit:
    """What the metrics need of a hit: where it is from and its cosine score."""

    filename: str
    page_start: int
    page_end: int
    score: float


def _first_ranks(question: GoldenQuestion, hits: Sequence[RankedHit]) -> list[int | None]:
    """For each expected source, the 1-based rank of the first hit that is it (None: none)."""
    ranks: list[int | None] = []
    for expected in question.expected:
        ranks.append(next((rank for rank, hit in enumerate(hits, 1)
                           if expected.matches(hit.filename, hit.page_start, hit.page_end)),
                          None))
    return ranks


def retrieval_scores(question: GoldenQuestion, hits: Sequence[RankedHit]) -> dict[str, float]:
    """recall@5, recall@10, mrr and ndcg@10 of one answerable question (module docstring)."""
    ranks = _first_ranks(question, hits)
    found = [r for r in ranks if r is not None]
    total = len(ranks)
    dcg = sum(1 / math.log2(r + 1) for r in found if r <= 10)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(total, 10) + 1))
    return {"recall@5": sum(r <= 5 for r in found) / total,
            "recall@10": sum(r <= 10 for r in found) / total,
            "mrr": 1 / min(found) if found else 0.0,
            "ndcg@10": dcg / ideal if ideal else 0.0}


def contains_answer(answer_text: str, expected: str) -> bool:
    """Whether `answer_text` holds `expected`, ignoring case and runs of spaces."""
    def squash(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip().lower()
    return squash(expected) in squash(answer_text)


def mean(values: Sequence[float]) -> float | None:
    """The mean, or None for no values (a metric the set cannot measure)."""
    return round(sum(values) / len(values), 4) if values else None


def best_relevant_score(question: GoldenQuestion, hits: Sequence[RankedHit]) -> float | None:
    """The highest cosine of a hit that is one of the question's expected sources."""
    scores = [h.score for h in hits
              if any(e.matches(h.filename, h.page_start, h.page_end) for e in question.expected)]
    return max(scores) if scores else None


def suggest_min_score(kept: Sequence[float | None], refused: Sequence[float | None]
                      ) -> float | None:
    """The threshold that keeps the most answerable questions' best relevant hits (`kept`)
    while refusing the most unanswerable questions' best hits (`refused`); the lowest such
    threshold on ties. None when the set has no scores to learn from."""
    keep = [s for s in kept if s is not None]
    drop = [s for s in refused if s is not None]
    if not keep:
        return None
    candidates = sorted({round(s, 4) for s in keep + drop} | {-1.0})
    def right(threshold: float) -> int:
        return sum(s >= threshold for s in keep) + sum(s < threshold for s in drop)
    best = max(candidates, key=lambda t: (right(t), -t))
    return round(best, 4)


@dataclass(frozen=True)
class Comparison:
    """How this run's metrics moved against the previous run's; `regressions` are the
    metrics that got worse by more than the tolerance."""

    previous_id: str
    deltas: dict[str, float]
    regressions: list[str]


def compare(current: Mapping[str, float | None], previous: Mapping[str, float | None],
            previous_id: str, tolerance: float) -> Comparison:
    """The change of each metric both runs measured (module docstring for the direction)."""
    deltas: dict[str, float] = {}
    regressions: list[str] = []
    for name in HIGHER_IS_BETTER + LOWER_IS_BETTER:
        now, before = current.get(name), previous.get(name)
        if now is None or before is None:
            continue
        deltas[name] = round(now - before, 4)
        worse = before - now if name in HIGHER_IS_BETTER else now - before
        if worse > tolerance + 1e-9:
            regressions.append(name)
    return Comparison(previous_id, deltas, regressions)
