"""The comparison of a prompt's versions: per variant, its answers and how they did.

One query over `answers` (left-joined with their feedback) of one tenant and prompt, in an
optional window: answers, up and down ratings, the insufficient-evidence rate, tokens in and
out, cost, and latency p50/p95 (`percentile_cont` in PostgreSQL). Versions that are live in
the configuration but have no answers yet are listed too, with zeros, so the report shows
the whole split.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from pipelines.feedback.tables import AnswerFeedback, AnswerRow


@dataclass(frozen=True)
class VariantStats:
    """One version of the prompt (`prompt`: "answer@v2") and its figures; `weight` is its
    current weight (None: no longer live); rates and percentiles are None with no answers."""

    prompt: str
    weight: float | None
    answers: int
    up: int
    down: int
    insufficient_evidence: int
    insufficient_evidence_rate: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None


def variant_report(session: Session, *, tenant: str, name: str,
                   live: Mapping[str, float] | None = None, since: datetime | None = None,
                   until: datetime | None = None) -> list[VariantStats]:
    """The figures of every version of prompt `name` that answered the tenant in the window
    (and of every version in `live`, the weights in force), sorted by version ref."""
    latency = AnswerRow.latency_ms
    query = (
        select(
            AnswerRow.prompt,
            func.count().label("answers"),
            func.count().filter(AnswerFeedback.rating == "up").label("up"),
            func.count().filter(AnswerFeedback.rating == "down").label("down"),
            func.sum(case((AnswerRow.insufficient_evidence, 1), else_=0)).label("insufficient"),
            func.coalesce(func.sum(AnswerRow.input_tokens), 0).label("input_tokens"),
            func.coalesce(func.sum(AnswerRow.output_tokens), 0).label("output_tokens"),
            func.coalesce(func.sum(AnswerRow.cost_usd), 0).label("cost_usd"),
            func.percentile_cont(0.5).within_group(latency).label("p50"),
            func.percentile_cont(0.95).within_group(latency).label("p95"),
        )
        .select_from(AnswerRow)
        .outerjoin(AnswerFeedback, AnswerFeedback.answer_id == AnswerRow.id)
        .where(AnswerRow.tenant_id == tenant, AnswerRow.prompt.like(f"{name}@v%"))
        .group_by(AnswerRow.prompt)
    )
    if since is not None:
        query = query.where(AnswerRow.created_at >= since)
    if until is not None:
        query = query.where(AnswerRow.created_at < until)
    live = dict(live or {})
    rows = {r.prompt: r for r in session.execute(query)}
    stats = []
    for ref in sorted(rows.keys() | live.keys(), key=_version_order):
        r = rows.get(ref)
        answers = int(r.answers) if r is not None else 0
        insufficient = int(r.insufficient or 0) if r is not None else 0
        stats.append(VariantStats(
            prompt=ref, weight=live.get(ref), answers=answers,
            up=int(r.up) if r is not None else 0, down=int(r.down) if r is not None else 0,
            insufficient_evidence=insufficient,
            insufficient_evidence_rate=insufficient / answers if answers else None,
            input_tokens=int(r.input_tokens) if r is not None else 0,
            output_tokens=int(r.output_tokens) if r is not None else 0,
            cost_usd=round(float(r.cost_usd), 8) if r is not None else 0.0,
            latency_p50_ms=None if r is None or r.p50 is None else float(r.p50),
            latency_p95_ms=None if r is None or r.p95 is None else float(r.p95),
        ))
    return stats


def _version_order(ref: str) -> tuple[str, int]:
    """"answer@v10" after "answer@v9"."""
    name, _, version = ref.partition("@v")
    return name, int(version) if version.isdigit() else 0



