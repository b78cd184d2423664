"""The golden set's format and the metrics of a run: what counts as found, how runs compare,
which threshold the set suggests."""

from __future__ import annotations

import pytest

from pipelines.evaluation import (
    GoldenQuestion,
    InvalidGoldenSet,
    read_jsonl,
    retrieval_scores,
    suggest_min_score,
)
from pipelines.evaluation.metrics import RankedHit, compare, contains_answer

Q = read_jsonl('{"question": "q", "expected": [{"document": "a.pdf", "pages": [2]}, '
               '{"document": "b.md"}]}')[0]


def _hit(filename: str, start: int = 1, end: int = 1, score: float = 0.5) -> RankedHit:
    return RankedHit(filename, start, end, score)


def test_found_means_the_right_document_and_an_overlapping_page() -> None:
    hits = [_hit("a.pdf", 1, 1), _hit("c.pdf"), _hit("a.pdf", 2, 3), _hit("x"), _hit("x"),
            _hit("b.md", 4, 4)]
    scores = retrieval_scores(Q, hits)
    assert scores["recall@5"] == 0.5 and scores["recall@10"] == 1.0
    assert scores["mrr"] == pytest.approx(1 / 3)
    assert 0 < scores["ndcg@10"] < 1
    assert retrieval_scores(Q, [_hit("a.pdf", 2, 2), _hit("b.md")])["ndcg@10"] == 1.0
    assert retrieval_scores(Q, [])["mrr"] == 0.0


def test_runs_compare_by_direction_and_tolerance() -> None:
    before = {"recall@5": 0.9, "mrr": 0.8, "insufficient_evidence": 0.1, "answer_containment": None}
    now = {"recall@5": 0.89, "mrr": 0.7, "insufficient_evidence": 0.2, "answer_containment": 0.5}
    result = compare(now, before, "run-1", tolerance=0.02)
    assert result.regressions == ["mrr", "insufficient_evidence"]
    assert result.deltas == {"recall@5": -0.01, "mrr": -0.1, "insufficient_evidence": 0.1}


def test_the_suggested_threshold_separates_answerable_from_unanswerable() -> None:
    assert suggest_min_score([0.62, 0.55, 0.48, None], [0.31, 0.40]) == 0.48
    assert suggest_min_score([0.3], [0.5]) == -1.0  # no threshold keeps the answerable one
    assert suggest_min_score([None], [0.4]) is None


def test_answers_are_contained_whatever_the_case_and_spacing() -> None:
    assert contains_answer("Revenue was $48.2  Million [1].", "$48.2 million")
    assert not contains_answer("Revenue was $42.8 million.", "$48.2 million")


@pytest.mark.parametrize(("line", "message"), [
    ('{"question": "q"}', 'name the "document"'),
    ('{"question": "q", "document": "a", "unanswerable": true}', "no expected document"),
    ('{"question": "q", "document": "a", "pages": [0]}', "page numbers from 1"),
    ('{"question": ""}', "non-empty"),
    ("[1]", "JSON object"),
    ("{oops", "not JSON"),
])
def test_bad_lines_are_named(line: str, message: str) -> None:
    with pytest.raises(InvalidGoldenSet, match=message) as caught:
        read_jsonl(f'# a comment\n{{"question": "ok", "unanswerable": true}}\n{line}')
    assert caught.value.message.startswith("line 3:")


def test_the_shorthand_and_the_list_name_the_same_source() -> None:
    short = read_jsonl('{"question": "q", "document": "a.pdf", "pages": [2]}')[0]
    assert isinstance(short, GoldenQuestion) and short.expected == Q.expected[:1]
