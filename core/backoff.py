"""Waiting out failures: exponential `Backoff` with jitter, and the `FailureStreak` of a loop.

Why: a loop that retries a failing call at a fixed pace (a worker polling the job queue every
0.5 s, say) hammers a database that is restarting and writes a traceback per attempt. Loops
that must keep running (ingestion workers, housekeeping, the embedded server's supervisor)
instead wait longer after each failure, up to a cap, with jitter so that several of them do
not retry in lockstep, and log one line when failures start and one when they stop.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from core.outage import is_database_unavailable


class Backoff:
    """Delays that double from `initial_s` up to `cap_s`, each moved by up to ±`jitter`
    (a fraction) at random; `reset()` starts again from `initial_s`.

    `rand` returns a float in [0, 1); pass a constant to make the delays deterministic
    (0.5 gives the exact doubling).
    """

    def __init__(self, initial_s: float = 0.5, cap_s: float = 30.0, *, jitter: float = 0.2,
                 rand: Callable[[], float] = random.random) -> None:
        if not 0 < initial_s <= cap_s:
            raise ValueError(f"need 0 < initial_s <= cap_s, not {initial_s} and {cap_s}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), not {jitter}")
        self.initial_s, self.cap_s, self.jitter = initial_s, cap_s, jitter
        self._rand = rand
        self._attempt = 0

    def next(self) -> float:
        """The delay before the next retry (longer each call, never over `cap_s`)."""
        base = min(self.cap_s, self.initial_s * 2.0 ** min(self._attempt, 64))
        self._attempt += 1
        spread = 1 + self.jitter * (2 * self._rand() - 1)
        return min(self.cap_s, base * spread)

    def reset(self) -> None:
        """Start again from `initial_s` (after a success)."""
        self._attempt = 0


class FailureStreak:
    """The consecutive failures of one retried loop, named `name` in `logger`'s lines.

    `failed(exc)` returns how long to wait before the next attempt (from `backoff`) and logs
    only the streak's first failure: one warning line for an unavailable database, the
    traceback for anything else (a bug deserves one). `succeeded()` logs the streak's end, with
    how many attempts failed over how long (`clock` is monotonic seconds), and resets.
    """

    def __init__(self, name: str, logger: logging.Logger, backoff: Backoff | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.backoff = backoff or Backoff()
        self.failures = 0
        self._log = logger
        self._clock = clock
        self._since = 0.0

    def failed(self, exc: BaseException) -> float:
        """Count a failure; return the seconds to wait before trying again."""
        delay = self.backoff.next()
        self.failures += 1
        if self.failures == 1:
            self._since = self._clock()
            cap = self.backoff.cap_s
            if is_database_unavailable(exc):
                self._log.warning("%s: database unavailable (%s); retrying with backoff up "
                                  "to %.0f s", self.name, type(exc).__name__, cap)
            else:
                self._log.error("%s failed; retrying with backoff up to %.0f s", self.name, cap,
                                exc_info=exc)
        return delay

    def succeeded(self) -> None:
        """Note a success; log the end of a streak of failures, if one was going on."""
        if self.failures:
            self._log.info("%s: working again after %d failed attempt(s) over %.1f s",
                           self.name, self.failures, self._clock() - self._since)
        self.failures = 0
        self.backoff.reset()
