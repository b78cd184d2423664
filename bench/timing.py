"""Measuring: CPU seconds of this process tree, wall and CPU seconds of a block, and statistics
over repeated, interleaved measurements.

CPU seconds (Tesseract children included) are a cost measure much less sensitive to other load
than wall time, which on a shared 2-core machine is noisy; ratios are taken per round, each
round measuring both sides back to back.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil


class CpuMeter:
    """CPU seconds (user + system) used by this process and all its live and reaped descendants.

    A child's time is counted while it runs (through psutil) and after it is reaped (through the
    `children_*` fields), so pool workers and the Tesseract processes they start are both seen.
    Take `read()` before and after a run and subtract.
    """

    def __init__(self) -> None:
        self._me = psutil.Process()

    def read(self) -> float:
        """Total CPU seconds so far."""
        total = _cpu(self._me)
        for child in self._me.children(recursive=True):
            try:
                total += _cpu(child)  # live descendants are each listed; reaped ones are
            except psutil.Error:  # in their parent's children_* fields, counted once
                continue
        return total


def _cpu(process: psutil.Process) -> float:
    t = process.cpu_times()
    return float(t.user + t.system + t.children_user + t.children_system)


@dataclass
class Timer:
    """Wall seconds and CPU seconds of one block (see `timed`)."""

    wall: float = 0.0
    cpu: float = 0.0


class timed:
    """`with timed(meter) as t: ...` → `t.wall`, `t.cpu` (CPU of this process tree)."""

    def __init__(self, meter: CpuMeter | None = None) -> None:
        self.meter = meter or CpuMeter()
        self.result = Timer()

    def __enter__(self) -> Timer:
        self._cpu0 = self.meter.read()
        self._wall0 = time.perf_counter()
        return self.result

    def __exit__(self, *exc: object) -> None:
        self.result.wall = time.perf_counter() - self._wall0
        self.result.cpu = self.meter.read() - self._cpu0


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0–100) with linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio_summary(ratios: Sequence[float]) -> dict[str, float]:
    """Median, min and max of per-round ratios (each round measured both sides back to back)."""
    return {"median": round(statistics.median(ratios), 3), "min": round(min(ratios), 3),
            "max": round(max(ratios), 3), "rounds": len(ratios)}
