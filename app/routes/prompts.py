"""`/v1/prompts`: the prompt versions, the live variants, and their comparison.

Thin: `GET /v1/prompts` lists every prompt version with the weights in force (re-read from the
LLM config file when it changed); `GET /v1/prompts/{name}/report?since=&until=` compares the
tenant's answers per version of prompt `name` (`pipelines.feedback.variant_report`): answers,
up and down ratings, insufficient-evidence rate, tokens, cost, latency p50/p95. `since` and
`until` are dates or ISO date-times (naive means UTC); without them, all answers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from app.deps import ContainerDep, SessionDep, TenantDep
from core import LecternError
from pipelines import feedback
from pipelines.feedback import VariantStats

router = APIRouter(prefix="/v1/prompts", tags=["prompts"])

PromptName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]


class UnknownPrompt(LecternError):
    """No prompt of this name (no version of it in the registry)."""

    code = "prompt_not_found"
    http_status = 404


class PromptOut(BaseModel):
    """One prompt: its versions, and the live ones with their weights (without variants, the
    default version at weight 1)."""

    name: str
    versions: list[str]
    live: dict[str, float]


class PromptsOut(BaseModel):
    prompts: list[PromptOut]


class ReportOut(BaseModel):
    """Per version of the prompt (its `weight` now; null when no longer live)."""

    prompt: str
    since: datetime | None
    until: datetime | None
    variants: list[VariantStats]


@router.get("")
def list_prompts(container: ContainerDep) -> PromptsOut:
    """Every prompt with its versions and the variants in force."""
    registry = container.llm_router.prompts
    names: dict[str, list[str]] = {}
    for ref in registry.refs():
        names.setdefault(ref.partition("@")[0], []).append(ref)
    return PromptsOut(prompts=[PromptOut(name=n, versions=v, live=registry.live(n))
                               for n, v in names.items()])


@router.get("/{name}/report")
def report(
    name: PromptName,
    container: ContainerDep,
    session: SessionDep,
    tenant: TenantDep,
    since: Annotated[datetime | None, Query(description="date or ISO date-time (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="date or ISO date-time (UTC)")] = None,
) -> ReportOut:
    """Compare the versions of prompt `name` on the tenant's answers (404 for an unknown
    prompt)."""
    registry = container.llm_router.prompts
    if not any(ref.partition("@")[0] == name for ref in registry.refs()):
        raise UnknownPrompt(f"no prompt {name!r}", prompt=name)
    live = registry.live(name)
    start, end = _utc(since), _utc(until)
    stats = feedback.variant_report(session, tenant=tenant, name=name, live=live, since=start,
                                    until=end)
    return ReportOut(prompt=name, since=start, until=end,
                     variants=stats)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)
