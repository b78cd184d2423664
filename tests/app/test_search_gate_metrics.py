"""The search gate's figures on `GET /metrics`, as the composition root wires them.

The container's own gate is held busy (every slot taken by a search that blocks until released)
while one more search waits in line; `/metrics` then shows that search waiting and the slots
running, and once all have run, nothing waiting or running and one wait observed per search.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.container import Container


def scrape(client: TestClient) -> dict[str, float]:
    """The unlabelled samples of `/metrics` whose names start with the gate's prefix."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {sample.name: sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if sample.name.startswith("lectern_search_gate_") and not sample.labels}


def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the gate never reached the expected state"
        time.sleep(0.01)


def test_metrics_show_searches_waiting_running_and_their_waits(
        container: Container, client: TestClient) -> None:
    gate = container.search_gate
    release = threading.Event()

    async def searches() -> list[object]:
        held = [gate.run(lambda: release.wait(10)) for _ in range(gate.limit)]
        return await asyncio.gather(*held, gate.run(lambda: "in line"))

    results: list[object] = []
    loop_thread = threading.Thread(target=lambda: results.extend(asyncio.run(searches())))
    loop_thread.start()
    try:
        eventually(lambda: gate.waiting == 1 and gate.running == gate.limit)
        busy = scrape(client)
        assert busy["lectern_search_gate_waiting"] == 1
        assert busy["lectern_search_gate_running"] == gate.limit
        assert busy["lectern_search_gate_wait_seconds_count"] == gate.limit  # the admitted ones
    finally:
        release.set()
        loop_thread.join(10)
    assert results == [True] * gate.limit + ["in line"]
    done = scrape(client)
    assert done["lectern_search_gate_waiting"] == 0
    assert done["lectern_search_gate_running"] == 0
    assert done["lectern_search_gate_wait_seconds_count"] == gate.limit + 1
    assert done["lectern_search_gate_wait_seconds_sum"] > 0
