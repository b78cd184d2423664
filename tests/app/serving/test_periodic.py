"""The scheduled task runner: first call at start, then on schedule, failures retried with
backoff and logged once per change, stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from app.serving.periodic import Periodic
from core import Backoff


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


def test_an_outage_is_retried_with_backoff_and_logged_once_each_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = [5]

    def purge() -> None:
        if failures[0]:
            failures[0] -= 1
            raise psycopg.OperationalError("connection failed: Connection refused")

    periodic = Periodic("purge", purge, interval_s=3600,
                        backoff=Backoff(0.5, 30.0, rand=lambda: 0.5))
    with caplog.at_level(logging.DEBUG, logger="lectern.periodic"):
        delays = [periodic.tick() for _ in range(7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 3600, 3600]
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert not any(r.exc_info for r in caplog.records)
    assert "purge: database unavailable" in caplog.records[0].getMessage()
    assert "after 5 failed attempt(s)" in caplog.records[1].getMessage()


def test_the_retry_never_waits_longer_than_the_interval() -> None:
    def fail() -> None:
        raise psycopg.OperationalError("connection failed")

    periodic = Periodic("short", fail, interval_s=2.0)
    assert max(periodic.tick() for _ in range(10)) == 2.0
