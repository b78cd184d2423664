"""Running a golden set against the live corpus, storing the run and comparing it.

Each question is searched twice: as the API would (the calibrated threshold, the metrics),
and with no threshold (the scores `suggest_min_score` learns a per-collection threshold
from). With `answers` on, questions that carry an `answer` are also answered through the
answer use case (whatever LLM is configured, the extractive answerer offline) and checked
for it. The run is stored, then compared with the tenant's previous run of the same set name
and collection: a metric that got worse by more than `tolerance` is a regression.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.embedding import Embedder
from ingest.store import Counted, list_newest
from pipelines.answer import answer, collect
from pipelines.errors import PipelineError
from pipelines.evaluation.golden import GoldenQuestion
from pipelines.evaluation.metrics import (
    RankedHit,
    best_relevant_score,
    compare,
    contains_answer,
    mean,
    retrieval_scores,
    suggest_min_score,
)
from pipelines.evaluation.tables import EvalRun
from pipelines.llm import LLMError, Router
from pipelines.search import Question, SearchGate, retrieve
from retrieval.rerank import Reranking
from retrieval.types import Hit, SearchMode

DEFAULT_TOLERANCE = 0.02
SEARCH_DEPTH = 10
SessionFactory = Callable[[], Session]


class EvalRunNotFound(PipelineError):
    """No evaluation run with this id in the caller's tenant."""

    code = "eval_run_not_found"
    http_status = 404


@dataclass(frozen=True)
class EvalOptions:
    """What to run: the set's name (runs of one name are compared), the collection searched
    (None: all of the tenant's), the regression tolerance, whether to answer too."""

    name: str
    collection: str | None = None
    tolerance: float = DEFAULT_TOLERANCE
    answers: bool = True
    mode: SearchMode = "hybrid"


@dataclass(frozen=True)
class Services:
    """What a run searches and answers with (the container's)."""

    embedder: Embedder
    router: Router
    gate: SearchGate | None = None
    reranking: Reranking | None = None


def _ranked(hits: Sequence[Hit]) -> list[RankedHit]:
    return [RankedHit(h.filename, h.page_start, h.page_end, h.score) for h in hits]


async def _one(session: Session, tenant: str, question: GoldenQuestion, options: EvalOptions,
               services: Services) -> dict[str, Any]:
    asked = Question(text=question.question, top_k=SEARCH_DEPTH, mode=options.mode,
                     collection=options.collection)

    async def search(asking: Question) -> list[RankedHit]:
        return _ranked(await retrieve(session, tenant=tenant, embedder=services.embedder,
                                      question=asking, gate=services.gate,
                                      reranking=services.reranking))

    live = await search(asked)
    raw = await search(dataclasses.replace(asked, min_score=-1.0))
    result: dict[str, Any] = {
        **question.to_dict(), "hits": [h.__dict__ for h in live],
        "best_score": raw[0].score if raw else None,
        "best_relevant_score": best_relevant_score(question, raw)}
    if not question.unanswerable:
        result["scores"] = retrieval_scores(question, live)
    if options.answers and question.answer is not None:
        try:
            collected = await collect(await answer(
                session, tenant=tenant, question=asked, embedder=services.embedder,
                router=services.router, gate=services.gate, reranking=services.reranking))
            result["answer_text"] = collected["answer"]
            result["answer_error"] = (collected["error"] or {}).get("code")
        except LLMError as exc:
            result["answer_text"], result["answer_error"] = "", exc.code
        result["contains_answer"] = contains_answer(result["answer_text"], question.answer)
    return result


def _metrics(results: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    answerable = [r for r in results if not r["unanswerable"]]
    refusing = [r for r in results if r["unanswerable"]]
    answered = [r for r in results if "contains_answer" in r]
    metrics = {name: mean([r["scores"][name] for r in answerable])
               for name in ("recall@5", "recall@10", "mrr", "ndcg@10")}
    metrics["insufficient_evidence"] = mean([float(not r["hits"]) for r in answerable])
    metrics["unanswerable_refused"] = mean([float(not r["hits"]) for r in refusing])
    metrics["answer_containment"] = mean([float(r["contains_answer"]) for r in answered])
    return metrics


async def run_evaluation(session: Session, *, tenant: str, questions: Sequence[GoldenQuestion],
                         options: EvalOptions, services: Services) -> EvalRun:
    """Run, store and compare (see the module docstring); returns the stored run."""
    results = [await _one(session, tenant, q, options, services) for q in questions]
    metrics = _metrics(results)
    suggested = suggest_min_score([r["best_relevant_score"] for r in results
                                   if not r["unanswerable"]],
                                  [r["best_score"] for r in results if r["unanswerable"]])
    previous = session.scalar(select(EvalRun).where(
        EvalRun.tenant_id == tenant, EvalRun.name == options.name,
        EvalRun.collection.is_(None) if options.collection is None
        else EvalRun.collection == options.collection,
    ).order_by(EvalRun.created_at.desc()).limit(1))
    comparison = None if previous is None else compare(
        metrics, previous.metrics, str(previous.id), options.tolerance).__dict__
    run = EvalRun(id=uuid.uuid4(), tenant_id=tenant, name=options.name,
                  collection=options.collection, question_count=len(results), metrics=metrics,
                  results=results, suggested_min_score=suggested, comparison=comparison)
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def list_runs(session: Session, *, tenant: str, name: str | None = None, limit: int = 50,
              offset: int = 0) -> Counted[EvalRun]:
    """A page of the tenant's runs, newest first, optionally of one set name."""
    return list_newest(session, EvalRun, tenant=tenant, equal={"name": name}, limit=limit,
                       offset=offset)


def get_run(session: Session, *, tenant: str, run_id: uuid.UUID) -> EvalRun:
    """One of the tenant's runs; `EvalRunNotFound` otherwise."""
    run = session.scalar(select(EvalRun).where(EvalRun.id == run_id, EvalRun.tenant_id == tenant))
    if run is None:
        raise EvalRunNotFound(f"no evaluation run {run_id}", run_id=str(run_id))
    return run
