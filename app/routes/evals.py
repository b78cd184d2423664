"""`/v1/evals`: run a golden set against the tenant's live corpus, and read past runs.

Thin: validate the set, call `pipelines.evaluation.run_evaluation`, return the stored run with
its metrics, its comparison with the previous run of the same name, and the suggested
`min_score`. `lectern eval` is a client of this route.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.deps import ContainerDep, Limit, Offset, SessionDep, TenantDep
from app.fields import CollectionName, JsonObject, SearchMode, Text
from app.schemas import Listing, listing
from pipelines import evaluation
from pipelines.evaluation import EvalRun

router = APIRouter(prefix="/v1/evals", tags=["evals"])


class EvalBody(BaseModel):
    """A golden set (the objects of its JSONL lines) and how to run it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "handbook", "collection": "handbook", "questions": [
            {"question": "What was revenue in 2023?", "document": "report.pdf", "pages": [2],
             "answer": "$42.8 million"},
            {"question": "Who is the CEO?", "unanswerable": True}]}]})

    name: Annotated[Text, Field(min_length=1, max_length=200)]
    collection: CollectionName = None
    questions: Annotated[list[JsonObject], Field(min_length=1,
                                                 max_length=evaluation.MAX_QUESTIONS)]
    tolerance: Annotated[float, Field(ge=0, le=1)] = evaluation.DEFAULT_TOLERANCE
    answers: bool = True
    mode: SearchMode = "hybrid"


class EvalRunOut(BaseModel):
    """A stored run: metrics (null where the set cannot measure one), the comparison with the
    previous run of the same name and collection (null for the first), per-question results."""

    id: uuid.UUID
    name: str
    collection: str | None
    question_count: int
    metrics: dict[str, float | None]
    suggested_min_score: float | None
    comparison: dict[str, Any] | None
    results: list[dict[str, Any]]
    created_at: datetime

    @classmethod
    def of(cls, run: EvalRun) -> EvalRunOut:
        """Build from an `EvalRun` row."""
        return cls(id=run.id, name=run.name, collection=run.collection,
                   question_count=run.question_count, metrics=run.metrics,
                   suggested_min_score=run.suggested_min_score, comparison=run.comparison,
                   results=run.results, created_at=run.created_at)


@router.post("")
async def run_eval(body: EvalBody, container: ContainerDep, session: SessionDep,
                   tenant: TenantDep) -> EvalRunOut:
    """Run the set now and store the run (a regression is a field of the answer, not an
    error: the caller decides what fails)."""
    questions = evaluation.parse_golden(body.questions)
    run = await evaluation.run_evaluation(
        session, tenant=tenant, questions=questions,
        options=evaluation.EvalOptions(name=body.name, collection=body.collection,
                                       tolerance=body.tolerance, answers=body.answers,
                                       mode=body.mode),
        services=evaluation.Services(container.embedder, container.llm_router,
                                     container.search_gate, container.reranking))
    return EvalRunOut.of(run)


@router.get("")
def list_evals(session: SessionDep, tenant: TenantDep, name: Text | None = None,
               limit: Limit = 50, offset: Offset = 0) -> Listing[EvalRunOut]:
    """The tenant's runs, newest first, optionally of one set name."""
    runs = evaluation.list_runs(session, tenant=tenant, name=name, limit=limit, offset=offset)
    return listing(runs, EvalRunOut.of, limit=limit, offset=offset)


@router.get("/{run_id}")
def get_eval(run_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> EvalRunOut:
    """One of the tenant's runs."""
    return EvalRunOut.of(evaluation.get_run(session, tenant=tenant, run_id=run_id))
