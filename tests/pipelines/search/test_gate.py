"""`SearchGate`: at most `limit` searches at once, started in arrival order; a caller that
gives up while waiting never runs; its observer sees every change of waiting and running."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from pipelines.search import SearchGate
from tests.support.waiting import until


class Recorder:
    """A `GateObserver` that keeps everything it is told."""

    def __init__(self) -> None:
        self.counts_seen: list[tuple[int, int]] = []
        self.waits: list[float] = []

    def counts(self, *, waiting: int, running: int) -> None:
        self.counts_seen.append((waiting, running))

    def waited(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_searches_run_limit_at_a_time_in_arrival_order() -> None:
    gate = SearchGate(2)
    lock = threading.Lock()
    running, peak, started = 0, 0, []

    def search(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            started.append(n)
        time.sleep(0.05)
        with lock:
            running -= 1
        return n * n

    async def main() -> list[int]:
        return await asyncio.gather(*(gate.run(lambda n=n: search(n)) for n in range(8)))

    try:
        assert asyncio.run(main()) == [n * n for n in range(8)]
    finally:
        gate.close()
    assert peak == 2
    assert started[2:] == list(range(2, 8))  # after the first two, strictly first come first


def test_a_caller_cancelled_in_line_never_runs_and_errors_reach_their_caller() -> None:
    gate = SearchGate(1)
    ran: list[str] = []
    release = threading.Event()

    def blocker() -> None:
        release.wait(5)
        ran.append("blocker")

    def fail() -> None:
        raise RuntimeError("boom")

    async def main() -> None:
        first = asyncio.ensure_future(gate.run(blocker))
        await until(lambda: gate.running == 1, what="the blocker starting")
        queued = asyncio.ensure_future(gate.run(lambda: ran.append("queued")))
        await until(lambda: gate.waiting == 1, what="the second call queueing")
        queued.cancel()
        await until(queued.done, what="the cancellation reaching the caller")
        assert queued.cancelled() and gate.waiting == 0
        release.set()
        await first
        with pytest.raises(RuntimeError, match="boom"):
            await gate.run(fail)

    try:
        asyncio.run(main())
    finally:
        gate.close()
    assert ran == ["blocker"]


def test_the_limit_defaults_to_the_cores_and_must_be_positive() -> None:
    assert SearchGate().limit >= 2
    with pytest.raises(ValueError, match="at least 1"):
        SearchGate(-1)


def test_the_observer_sees_waiting_and_running_move_and_each_admitted_wait() -> None:
    seen = Recorder()
    gate = SearchGate(1, observer=seen)
    release = threading.Event()

    async def main() -> None:
        first = asyncio.ensure_future(gate.run(lambda: release.wait(5)))
        await until(lambda: gate.running == 1, what="the first search starting")
        second = asyncio.ensure_future(gate.run(lambda: "second"))
        third = asyncio.ensure_future(gate.run(lambda: "third"))
        await until(lambda: gate.waiting == 2, what="two searches queueing")
        assert (gate.waiting, gate.running) == (2, 1)
        assert seen.counts_seen[-1] == (2, 1)
        third.cancel()  # gives up in line: leaves it without running
        await until(third.done, what="the cancellation reaching the caller")
        assert (gate.waiting, gate.running) == (1, 1) == seen.counts_seen[-1]
        time.sleep(0.15)  # the first holds the gate: the second's measured wait must show it
        release.set()
        assert await first is True
        assert await second == "second"

    try:
        asyncio.run(main())
    finally:
        gate.close()
    assert (gate.waiting, gate.running) == (0, 0) == seen.counts_seen[-1]
    assert seen.counts_seen == [(1, 0), (0, 1), (1, 1), (2, 1), (1, 1), (1, 0), (0, 1), (0, 0)]
    assert len(seen.waits) == 2  # the first and the second; the cancelled one never got a turn
    assert seen.waits[0] < 0.05 and seen.waits[1] >= 0.15
