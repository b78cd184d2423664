"""Backoff doubles up to its cap with bounded jitter; a failure streak logs its start and end
once, however many attempts fail in between. Deterministic: the randomness and the clock are
injected."""

from __future__ import annotations

import logging

import psycopg
import pytest

from core import Backoff, FailureStreak


def test_delays_double_from_half_a_second_up_to_the_cap() -> None:
    backoff = Backoff(0.5, 30.0, rand=lambda: 0.5)  # 0.5: no jitter
    delays = [backoff.next() for _ in range(10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_jitter_moves_each_delay_by_at_most_its_fraction_and_never_past_the_cap() -> None:
    low = Backoff(1.0, 8.0, jitter=0.25, rand=lambda: 0.0)
    high = Backoff(1.0, 8.0, jitter=0.25, rand=lambda: 0.999999)
    assert [low.next() for _ in range(5)] == [0.75, 1.5, 3.0, 6.0, 6.0]
    assert [round(high.next(), 3) for _ in range(5)] == [1.25, 2.5, 5.0, 8.0, 8.0]


def test_a_long_outage_does_not_overflow() -> None:
    backoff = Backoff(0.5, 30.0)
    assert all(0 < backoff.next() <= 30.0 for _ in range(2000))


@pytest.mark.parametrize(("initial", "cap", "jitter"), [(0, 1, 0.1), (2, 1, 0.1), (1, 2, 1.0)])
def test_nonsense_is_refused(initial: float, cap: float, jitter: float) -> None:
    with pytest.raises(ValueError):
        Backoff(initial, cap, jitter=jitter)


def test_a_streak_logs_one_line_when_it_starts_and_one_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    log = logging.getLogger("lectern.test.streak")
    streak = FailureStreak("probe", log, Backoff(0.5, 4.0, rand=lambda: 0.5),
                           clock=lambda: now[0])
    with caplog.at_level(logging.DEBUG, logger=log.name):
        delays = []
        for _ in range(6):
            delays.append(streak.failed(psycopg.OperationalError("connection refused")))
            now[0] += delays[-1]
        streak.succeeded()
        streak.succeeded()
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    down, up = caplog.records
    assert "database unavailable (OperationalError)" in down.getMessage()
    assert down.exc_info is None
    assert "after 6 failed attempt(s) over 15.5 s" in up.getMessage()
    assert streak.failed(psycopg.OperationalError("again")) == 0.5, "backoff reset on success"


def test_an_unexpected_error_logs_its_traceback_once(caplog: pytest.LogCaptureFixture) -> None:
    streak = FailureStreak("probe", logging.getLogger("lectern.test.streak"),
                           Backoff(rand=lambda: 0.5))
    with caplog.at_level(logging.DEBUG, logger="lectern.test.streak"):
        for _ in range(3):
            streak.failed(KeyError("bug"))
    assert len(caplog.records) == 1
    assert caplog.records[0].levelname == "ERROR" and caplog.records[0].exc_info is not None
