"""The scheduled task runner: first call at start, then on schedule, failures logged, stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from app.serving.periodic import Periodic


def eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """True as soon as `condition()` holds, False if it still does not after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_calls_at_start_then_every_interval_until_stopped() -> None:
    calls: list[float] = []
    periodic = Periodic("probe", lambda: calls.append(time.monotonic()), interval_s=0.02)
    periodic.start()
    assert eventually(lambda: len(calls) >= 3)
    assert periodic.stop()
    seen = len(calls)
    time.sleep(0.1)
    assert len(calls) == seen, "no call after stop()"


def test_a_failing_call_is_logged_and_the_schedule_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes = iter([RuntimeError("database restarting"), None])
    done = threading.Event()

    def task() -> None:
        outcome = next(outcomes, None)
        if outcome is not None:
            raise outcome
        done.set()

    periodic = Periodic("flaky", task, interval_s=0.02).start()
    try:
        assert done.wait(10.0)
    finally:
        assert periodic.stop()
    assert "flaky failed" in caplog.text and "database restarting" in caplog.text


def test_tick_runs_once_in_the_caller_and_stop_before_start_is_harmless() -> None:
    calls: list[int] = []
    periodic = Periodic("probe", lambda: calls.append(1), interval_s=3600)
    periodic.tick()
    assert calls == [1]
    assert periodic.stop()


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Periodic("probe", lambda: None, interval_s=0)
