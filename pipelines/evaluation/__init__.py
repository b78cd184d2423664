"""Evaluation: a golden set run against the live corpus, as a regression gate.

Public API:

- `run_evaluation`, `list_runs`, `get_run`, `EvalOptions`, `Services`, `EvalRunNotFound`,
  `DEFAULT_TOLERANCE` (`service`), and the stored run `EvalRun` (`tables`);
- `read_jsonl`, `parse_golden`, `GoldenQuestion`, `Expected`, `InvalidGoldenSet`,
  `MAX_QUESTIONS` (`golden`);
- `HIGHER_IS_BETTER`, `LOWER_IS_BETTER`, `RankedHit`, `suggest_min_score`, `retrieval_scores`
  (`metrics`).
"""

from pipelines.evaluation.golden import (
    MAX_QUESTIONS,
    Expected,
    GoldenQuestion,
    InvalidGoldenSet,
    parse_golden,
    read_jsonl,
)
from pipelines.evaluation.metrics import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    RankedHit,
    retrieval_scores,
    suggest_min_score,
)
from pipelines.evaluation.service import (
    DEFAULT_TOLERANCE,
    EvalOptions,
    EvalRunNotFound,
    Services,
    get_run,
    list_runs,
    run_evaluation,
)
from pipelines.evaluation.tables import EvalRun

__all__ = [
    "DEFAULT_TOLERANCE",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "MAX_QUESTIONS",
    "EvalOptions",
    "EvalRun",
    "EvalRunNotFound",
    "Expected",
    "GoldenQuestion",
    "InvalidGoldenSet",
    "RankedHit",
    "Services",
    "get_run",
    "list_runs",
    "parse_golden",
    "read_jsonl",
    "retrieval_scores",
    "run_evaluation",
    "suggest_min_score",
]
