"""Per-provider circuit breakers, so a failing endpoint is skipped instead of retried per request.

closed --N consecutive failures--> open --cool-down--> half-open (one probe call allowed)
half-open --probe succeeds--> closed;  half-open --probe fails--> open (cool-down restarts).

State is per process: each API replica learns a provider's health on its own, which is cheap
and needs no coordination. The clock is injectable so tests can step through cool-downs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


Clock = Callable[[], float]
StateListener = Callable[[str, BreakerState], None]


class CircuitBreaker:
    """One provider's breaker. Thread-safe; calls are O(1) and never block on I/O."""

    def __init__(
        self,
        name: str,
        *,
        failures_to_open: int = 3,
        cooldown_s: float = 30.0,
        clock: Clock = time.monotonic,
        on_change: StateListener | None = None,
    ) -> None:
        self.name = name
        self.failures_to_open = failures_to_open
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started: float | None = None

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose cool-down has passed reads as half-open."""
        with self._lock:
            if self._state is BreakerState.OPEN and self._cooled_down():
                return BreakerState.HALF_OPEN
            return self._state

    def available(self) -> bool:
        """Whether a call could be let through now (does not claim the half-open probe)."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                return self._cooled_down()
            return self._probe_expired()

    def allow(self) -> bool:
        """Claim permission for one call; in half-open state only one probe at a time wins."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if not self._cooled_down():
                    return False
                self._set(BreakerState.HALF_OPEN)
            elif not self._probe_expired():
                return False
            # A probe that never reported back (cancelled call) expires after one cool-down.
            self._probe_started = self._clock()
            return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._probe_started = None
            if self._state is not BreakerState.CLOSED:
                self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._probe_started = None
            if self._state is BreakerState.HALF_OPEN or (
                self._state is BreakerState.CLOSED and self._failures >= self.failures_to_open
            ):
                self._opened_at = self._clock()
                self._set(BreakerState.OPEN)

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.cooldown_s

    def _probe_expired(self) -> bool:
        started = self._probe_started
        return started is None or self._clock() - started >= self.cooldown_s

    def _set(self, state: BreakerState) -> None:
        self._state = state
        if self._on_change is not None:
            self._on_change(self.name, state)


class BreakerBoard:
    """The breakers of all providers, created on first use with shared settings."""

    def __init__(
        self,
        *,
        failures_to_open: int = 3,
        cooldown_s: float = 30.0,
        clock: Clock = time.monotonic,
        on_change: StateListener | None = None,
    ) -> None:
        self._settings = (failures_to_open, cooldown_s)
        self._clock = clock
        self._on_change = on_change
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def get(self, provider: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(provider)
            if breaker is None:
                breaker = CircuitBreaker(
                    provider,
                    failures_to_open=self._settings[0],
                    cooldown_s=self._settings[1],
                    clock=self._clock,
                    on_change=self._on_change,
                )
                self._breakers[provider] = breaker
                if self._on_change is not None:
                    self._on_change(provider, BreakerState.CLOSED)
            return breaker

    def states(self) -> dict[str, BreakerState]:
        """Snapshot of every known provider's state (for /metrics and health output)."""
        with self._lock:
            breakers = list(self._breakers.values())
        return {b.name: b.state for b in breakers}
