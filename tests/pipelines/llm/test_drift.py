"""Drift signals from the ledger (pipelines/llm/drift.py) on the real PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from pipelines.llm.drift import (
    DriftBounds,
    DriftMonitor,
    GroupWindows,
    WindowStats,
    group_signals,
)
from tests.support.ledger_rows import write_calls
from tests.support.routing import tenant

RECENT = timedelta(minutes=10)
BASELINE = timedelta(hours=3)


def _fallback_jump(engine: Engine, t: str, *, recent_calls: int = 25) -> None:
    """Baseline: 40 calls, 2 fallbacks (5%); recent: 40% fallbacks."""
    write_calls(engine, t, age=BASELINE, outcomes={"ok": 38, "fallback": 2})
    fallbacks = recent_calls * 2 // 5
    write_calls(engine, t, age=RECENT, outcomes={"ok": recent_calls - fallbacks,
                                                 "fallback": fallbacks})


def test_a_fallback_jump_is_one_signal_with_both_figures(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    t = tenant()
    _fallback_jump(engine, t)
    monitor = DriftMonitor(engine, DriftBounds(min_calls=20))
    with caplog.at_level(logging.WARNING, logger="pipelines.llm.drift"):
        report = monitor.check_sync(t)
        again = monitor.check_sync(t)
    [signal] = report.signals
    assert (signal.task, signal.model, signal.prompt_version, signal.metric) == (
        "answer", "m", "answer@v1", "fallback_rate")
    assert signal.recent == pytest.approx(10 / 25) and signal.baseline == pytest.approx(2 / 40)
    assert (signal.recent_calls, signal.baseline_calls) == (25, 40)
    assert signal.change == pytest.approx(0.35) and signal.bound == 0.10
    assert again.signals == report.signals
    warnings = [r for r in caplog.records if "drift" in r.getMessage()]
    assert len(warnings) == 1 and t in warnings[0].getMessage()  # once per new signal


def test_a_window_below_the_minimum_calls_never_signals(engine: Engine) -> None:
    t = tenant()
    _fallback_jump(engine, t, recent_calls=10)
    assert DriftMonitor(engine, DriftBounds(min_calls=20)).check_sync(t).signals == []
    assert DriftMonitor(engine, DriftBounds(min_calls=10)).check_sync(t).signals != []


def test_another_tenant_sees_no_signal(engine: Engine) -> None:
    t, other = tenant(), tenant()
    _fallback_jump(engine, t)
    monitor = DriftMonitor(engine, DriftBounds(min_calls=20))
    assert monitor.check_sync(other).signals == []
    assert len(monitor.check_sync(t).signals) == 1


def test_versions_are_compared_apart_and_rows_outside_the_windows_ignored(
        engine: Engine) -> None:
    t = tenant()
    write_calls(engine, t, age=BASELINE, outcomes={"ok": 40}, prompt_version="answer@v1")
    write_calls(engine, t, age=RECENT, outcomes={"ok": 30}, prompt_version="answer@v1")
    write_calls(engine, t, age=BASELINE, outcomes={"ok": 40}, prompt_version="answer@v2")
    write_calls(engine, t, age=RECENT, outcomes={"error": 30}, prompt_version="answer@v2")
    write_calls(engine, t, age=timedelta(hours=30), outcomes={"error": 50},
                prompt_version="answer@v1")  # before the baseline window
    report = DriftMonitor(engine).check_sync(t)
    assert [(s.prompt_version, s.metric) for s in report.signals] == [("answer@v2", "error_rate")]


def test_output_token_mean_moves_by_a_fraction_of_the_baseline() -> None:
    bounds = DriftBounds(min_calls=5, output_tokens=0.5)
    baseline = WindowStats(calls=10, answered=10, answered_output_tokens=1000)
    longer = WindowStats(calls=10, answered=10, answered_output_tokens=1600)
    a_bit = WindowStats(calls=10, answered=10, answered_output_tokens=1400)
    [signal] = group_signals(GroupWindows("answer", "m", "v", longer, baseline), bounds)
    assert (signal.metric, signal.recent, signal.baseline) == ("output_tokens_mean", 160, 100)
    assert signal.change == pytest.approx(0.6)
    assert group_signals(GroupWindows("answer", "m", "v", a_bit, baseline), bounds) == []
