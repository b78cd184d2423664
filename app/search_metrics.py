"""Prometheus collectors of the search gate: the `GateObserver` the composition root hands it.

Why here and not in `pipelines`: the gate only counts and reports through its narrow
`GateObserver` seam; turning that into exported series is the app's business, like the HTTP
collectors of `app.routes.metrics`. The collectors live on the registry the container serves
at `/metrics`.

- `lectern_search_gate_waiting` (gauge): searches waiting for their turn right now;
- `lectern_search_gate_running` (gauge): searches running right now (at most the limit);
- `lectern_search_gate_wait_seconds` (histogram): how long each search that got its turn
  waited in line for it (a search whose caller gave up while waiting is not observed).

The gauges use `multiprocess_mode="livesum"`: under `serve --workers N` the figure shown is
the sum over the live worker processes, each of which has a gate of its own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, Histogram

from pipelines.search import GateObserver

_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class SearchGateMetrics(GateObserver):
    """Waiting and running searches (gauges) and the time waited for a turn (histogram)."""

    def __init__(self, registry: CollectorRegistry, *, namespace: str = "lectern") -> None:
        self.waiting = Gauge(
            "search_gate_waiting", "Searches waiting for their turn at the search gate.",
            namespace=namespace, registry=registry, multiprocess_mode="livesum")
        self.running = Gauge(
            "search_gate_running", "Searches running inside the search gate.",
            namespace=namespace, registry=registry, multiprocess_mode="livesum")
        self.wait = Histogram(
            "search_gate_wait_seconds", "Time a search waited in line for its turn.",
            namespace=namespace, registry=registry, buckets=_WAIT_BUCKETS)

    def counts(self, *, waiting: int, running: int) -> None:
        """Set both gauges to the gate's current numbers."""
        self.waiting.set(waiting)
        self.running.set(running)

    def waited(self, seconds: float) -> None:
        """Observe one admitted search's wait."""
        self.wait.observe(seconds)
