"""Quality-drift signals from the cost ledger: a recent window compared with a baseline window.

Per tenant, and per (task, model, prompt version), one SQL query over `llm_calls` counts both
windows (`window_stats`); pure functions then compare them (`signals`): the fallback, error
and cache-hit rates by how many points they moved, the mean output tokens of answered calls
by how far it moved relative to the baseline. A group with fewer than `min_calls` calls in
either window never signals, so a handful of calls cannot raise an alert. `DriftMonitor`
runs the check for `GET /v1/alerts` and logs one warning per signal that was not active at
the previous check of that tenant (per process: the ledger stays the source of truth).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import Engine, Integer, cast, func, select

from pipelines.llm.storage import LLMCall

log = logging.getLogger(__name__)

Metric = Literal["fallback_rate", "error_rate", "cache_hit_rate", "output_tokens_mean"]


@dataclass(frozen=True)
class DriftBounds:
    """The windows and how far a figure may move before it is a signal.

    Rates move by absolute points (0.10 = ten points); the output-token mean by a fraction of
    the baseline mean (0.5 = half as much again, or half as little).
    """

    recent_s: float = 3600.0
    baseline_s: float = 86400.0
    min_calls: int = 20
    fallback_rate: float = 0.10
    error_rate: float = 0.10
    cache_hit_rate: float = 0.20
    output_tokens: float = 0.5


@dataclass(frozen=True)
class WindowStats:
    """One window's counts for one group; `answered` are `ok` calls not served from cache."""

    calls: int = 0
    errors: int = 0
    fallbacks: int = 0
    cache_hits: int = 0
    answered: int = 0
    answered_output_tokens: int = 0

    def figure(self, metric: Metric) -> float:
        """The window's value of `metric` (0.0 when it has no calls to divide by)."""
        if metric == "output_tokens_mean":
            return self.answered_output_tokens / self.answered if self.answered else 0.0
        count = {"fallback_rate": self.fallbacks, "error_rate": self.errors,
                 "cache_hit_rate": self.cache_hits}[metric]
        return count / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class GroupWindows:
    """Both windows of one (task, model, prompt version)."""

    task: str
    model: str
    prompt_version: str
    recent: WindowStats
    baseline: WindowStats


@dataclass(frozen=True)
class DriftSignal:
    """A figure that moved past its bound: both windows' values and call counts."""

    task: str
    model: str
    prompt_version: str
    metric: Metric
    recent: float
    baseline: float
    change: float
    bound: float
    recent_calls: int
    baseline_calls: int

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What identifies the signal from one check to the next."""
        return (self.task, self.model, self.prompt_version, self.metric)


_RATES: tuple[Metric, ...] = ("fallback_rate", "error_rate", "cache_hit_rate")


def _rate_bound(bounds: DriftBounds, metric: Metric) -> float:
    return {"fallback_rate": bounds.fallback_rate, "error_rate": bounds.error_rate,
            "cache_hit_rate": bounds.cache_hit_rate}[metric]


def group_signals(group: GroupWindows, bounds: DriftBounds) -> list[DriftSignal]:
    """The signals of one group: none unless both windows hold `min_calls` calls; the token
    mean is compared only when both windows hold `min_calls` answered calls."""
    recent, baseline = group.recent, group.baseline
    if recent.calls < bounds.min_calls or baseline.calls < bounds.min_calls:
        return []
    found: list[DriftSignal] = []

    def signal(metric: Metric, change: float, bound: float) -> None:
        found.append(DriftSignal(
            group.task, group.model, group.prompt_version, metric,
            round(recent.figure(metric), 6), round(baseline.figure(metric), 6),
            round(change, 6), bound, recent.calls, baseline.calls))

    for metric in _RATES:
        change = recent.figure(metric) - baseline.figure(metric)
        if abs(change) > _rate_bound(bounds, metric):
            signal(metric, change, _rate_bound(bounds, metric))
    if min(recent.answered, baseline.answered) >= bounds.min_calls:
        before = baseline.figure("output_tokens_mean")
        if before > 0:
            change = recent.figure("output_tokens_mean") / before - 1.0
            if abs(change) > bounds.output_tokens:
                signal("output_tokens_mean", change, bounds.output_tokens)
    return found


def signals(groups: list[GroupWindows], bounds: DriftBounds) -> list[DriftSignal]:
    """Every group's signals, in the groups' order."""
    return [s for group in groups for s in group_signals(group, bounds)]


def _window_columns(since: datetime, until: datetime, prefix: str) -> list[object]:
    inside = (LLMCall.created_at >= since) & (LLMCall.created_at < until)
    answered = inside & (LLMCall.outcome == "ok") & ~LLMCall.cached
    return [
        func.count().filter(inside).label(f"{prefix}calls"),
        func.count().filter(inside & (LLMCall.outcome == "error")).label(f"{prefix}errors"),
        func.count().filter(inside & (LLMCall.outcome == "fallback")).label(f"{prefix}fallbacks"),
        func.count().filter(inside & LLMCall.cached).label(f"{prefix}cache_hits"),
        func.count().filter(answered).label(f"{prefix}answered"),
        cast(func.coalesce(func.sum(LLMCall.output_tokens).filter(answered), 0), Integer)
        .label(f"{prefix}answered_output_tokens"),
    ]


def window_stats(engine: Engine, tenant: str, now: datetime, bounds: DriftBounds
                 ) -> list[GroupWindows]:
    """Both windows of each of `tenant`'s groups, counted by one query: the recent window is
    the `recent_s` before `now`, the baseline the `baseline_s` before that."""
    recent_start = now - timedelta(seconds=bounds.recent_s)
    baseline_start = recent_start - timedelta(seconds=bounds.baseline_s)
    keys = (LLMCall.task, LLMCall.model, LLMCall.prompt_version)
    stmt = (
        select(*keys, *_window_columns(recent_start, now, "r_"),
               *_window_columns(baseline_start, recent_start, "b_"))
        .where(LLMCall.tenant_id == tenant, LLMCall.created_at >= baseline_start,
               LLMCall.created_at < now)
        .group_by(*keys).order_by(*keys)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    fields = WindowStats.__dataclass_fields__
    return [GroupWindows(r["task"], r["model"], r["prompt_version"],
                         WindowStats(**{f: int(r[f"r_{f}"]) for f in fields}),
                         WindowStats(**{f: int(r[f"b_{f}"]) for f in fields})) for r in rows]


@dataclass(frozen=True)
class DriftReport:
    """One check: the windows it compared and the signals it found."""

    recent_start: datetime
    baseline_start: datetime
    now: datetime
    signals: list[DriftSignal]


class DriftMonitor:
    """Checks a tenant's ledger for drift and warns once per newly active signal."""

    def __init__(self, engine: Engine, bounds: DriftBounds | None = None) -> None:
        self.engine = engine
        self.bounds = bounds or DriftBounds()
        self._active: dict[str, set[tuple[str, str, str, str]]] = {}
        self._lock = threading.Lock()

    def check_sync(self, tenant: str, now: datetime | None = None) -> DriftReport:
        now = now or datetime.now(UTC)
        found = signals(window_stats(self.engine, tenant, now, self.bounds), self.bounds)
        with self._lock:
            before = self._active.get(tenant, set())
            self._active[tenant] = {s.key for s in found}
        for s in found:
            if s.key not in before:
                log.warning("LLM drift for tenant %s: %s of %s on %s (%s) moved from %s to %s "
                            "(bound %s; %d calls vs %d)", tenant, s.metric, s.task, s.model,
                            s.prompt_version, s.baseline, s.recent, s.bound, s.recent_calls,
                            s.baseline_calls)
        recent_start = now - timedelta(seconds=self.bounds.recent_s)
        return DriftReport(recent_start, recent_start - timedelta(seconds=self.bounds.baseline_s),
                           now, found)

    async def check(self, tenant: str, now: datetime | None = None) -> DriftReport:
        """The tenant's current signals (in a worker thread: the query is sync)."""
        return await asyncio.to_thread(self.check_sync, tenant, now)
