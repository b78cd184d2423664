"""`GET /v1/alerts`: the tenant's current quality-drift signals, from the cost ledger.

Thin: `DriftMonitor.check` (pipelines/llm/drift.py) compares the recent window with the
baseline window before it, per task, model and prompt version, and logs a warning for each
signal that was not active at the previous check; this shapes the report. The windows and
bounds are `LECTERN_DRIFT_*` (README). An empty `alerts` list means nothing moved past its
bound, or no group had enough calls in both windows to say.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import ContainerDep, TenantDep
from pipelines.llm import DriftSignal

router = APIRouter(prefix="/v1", tags=["alerts"])


class WindowOut(BaseModel):
    """One window's figure and how many calls it rests on."""

    value: float
    calls: int


class AlertOut(BaseModel):
    """A figure of one (task, model, prompt version) that moved past its bound; `change` is
    in points for a rate, a fraction of the baseline for `output_tokens_mean`."""

    task: str
    model: str
    prompt_version: str
    metric: str
    recent: WindowOut
    baseline: WindowOut
    change: float
    bound: float


class WindowsOut(BaseModel):
    """The two windows compared: baseline [baseline_start, recent_start), recent up to now."""

    baseline_start: datetime
    recent_start: datetime
    now: datetime
    min_calls: int


class AlertsOut(BaseModel):
    tenant: str
    windows: WindowsOut
    alerts: list[AlertOut]


@router.get("/alerts")
async def alerts(container: ContainerDep, tenant: TenantDep) -> AlertsOut:
    """The tenant's drift signals now, with both windows' figures."""
    report = await container.drift.check(tenant)
    windows = WindowsOut(baseline_start=report.baseline_start, recent_start=report.recent_start,
                         now=report.now, min_calls=container.drift.bounds.min_calls)
    return AlertsOut(tenant=tenant, windows=windows, alerts=[_alert(s) for s in report.signals])


def _alert(s: DriftSignal) -> AlertOut:
    return AlertOut(task=s.task, model=s.model, prompt_version=s.prompt_version,
                    metric=s.metric, recent=WindowOut(value=s.recent, calls=s.recent_calls),
                    baseline=WindowOut(value=s.baseline, calls=s.baseline_calls),
                    change=s.change, bound=s.bound)
