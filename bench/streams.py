"""The client side of `bench.query`'s `/v1/ask` streams, and event-loop lag.

- `ask_stream`: one `/v1/ask` SSE stream read to the end, as a `Stream` (status, time to first
  token, tokens, the server's own timings from its `usage` event, errors);
- `concurrent_streams` / `measured_streams`: `n` streams at once against a server on a
  loopback port, with a client-side lag ticker (and the server's, from the bench child's
  `/_bench/lag` route, when asked), plus the server's CPU seconds and the load before;
- `lag_ticker`, `lag_summary`: how late a 10 ms sleep wakes on a loop (a stall is a tick more
  than 50 ms late), the measure of a blocked event loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.machine import machine_load
from bench.processes import tree_cpu_s
from bench.timing import percentile

if TYPE_CHECKING:
    import httpx

TICK_S = 0.01
STALL_S = 0.05


@dataclass
class Stream:
    """One `/v1/ask` SSE stream as the client saw it."""

    status: int = 0
    ttft: float | None = None
    duration: float = 0.0
    tokens: int = 0
    events: int = 0
    done: bool = False
    error: str | None = None
    server_ttft_ms: int | None = None
    retrieval_ms: int | None = None


async def ask_stream(client: httpx.AsyncClient, question: str, top_k: int) -> Stream:
    """POST /v1/ask as SSE and read it to the end."""
    from httpx_sse import aconnect_sse

    out = Stream()
    started = time.perf_counter()
    body = {"question": question, "min_score": -1.0, "top_k": top_k, "mode": "hybrid"}
    try:
        async with aconnect_sse(client, "POST", "/v1/ask", json=body,
                                headers={"Accept": "text/event-stream"}) as source:
            out.status = source.response.status_code
            if out.status != 200:
                await source.response.aread()
                out.error = f"HTTP {out.status}: {source.response.text[:200]}"
                return out
            async for sse in source.aiter_sse():
                out.events += 1
                if sse.event == "token":
                    out.tokens += 1
                    if out.ttft is None:
                        out.ttft = time.perf_counter() - started
                elif sse.event == "usage":
                    usage = json.loads(sse.data)
                    out.server_ttft_ms = usage.get("ttft_ms")
                    out.retrieval_ms = usage.get("retrieval_ms")
                elif sse.event == "done":
                    out.done = True
                elif sse.event == "error":
                    out.error = f"error event: {sse.data[:200]}"
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    out.duration = time.perf_counter() - started
    if out.error is None and not out.done:
        out.error = "stream ended without done"
    return out


async def lag_ticker(lags: list[float]) -> None:
    """Until cancelled, append how late each `TICK_S` sleep of the running loop woke (s)."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(TICK_S)
        lags.append(loop.time() - started - TICK_S)


def lag_summary(lags: Sequence[float]) -> dict[str, Any]:
    """Percentiles, maximum and stalls (ticks over 50 ms late) of one loop's lags, in ms."""
    stalls = [x for x in lags if x > STALL_S]
    return {"ticks": len(lags), "p50_ms": round(percentile(lags, 50) * 1000, 2),
            "p99_ms": round(percentile(lags, 99) * 1000, 2),
            "max_ms": round(max(lags, default=0.0) * 1000, 1),
            "stalls_over_50ms": len(stalls), "stalled_s": round(sum(stalls), 2),
            "over_100ms": sum(x > 0.1 for x in lags), "over_250ms": sum(x > 0.25 for x in lags)}


def measured_streams(pid: int, port: int, qs: Sequence[str], n: int, deadline: float, *,
                     server_lag: bool) -> tuple[list[Stream], list[float], list[float], float,
                                                float, dict[str, Any]]:
    """`concurrent_streams` against the server `pid` on `port`, measured: (streams, server
    lags, client lags, wall s, CPU s of the server's process tree, machine load before)."""
    load_before = machine_load()
    cpu_before = tree_cpu_s(pid)
    streams, server_lags, client_lags, wall = asyncio.run(
        concurrent_streams(port, qs, n, deadline, server_lag=server_lag))
    return (streams, server_lags, client_lags, wall, tree_cpu_s(pid) - cpu_before,
            load_before)


async def concurrent_streams(port: int, qs: Sequence[str], n: int, deadline: float,
                             server_lag: bool) -> tuple[list[Stream], list[float], list[float],
                                                        float]:
    """Three warm-up asks, then `n` streams at once: (streams, server lags, client lags, wall).

    `server_lag` reads and resets the bench child's `/_bench/lag` (absent from `lectern serve`,
    whose server lags are then reported as none).
    """
    import httpx

    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=deadline,
                                 limits=limits) as client:
        for q in qs[:3]:
            await ask_stream(client, q, 4)
        if server_lag:
            await client.post("/_bench/lag", params={"reset": True})
        client_lags: list[float] = []
        ticker = asyncio.create_task(lag_ticker(client_lags))
        started = time.perf_counter()
        tasks = [asyncio.create_task(ask_stream(client, qs[(100 + i) % len(qs)], 4))
                 for i in range(n)]
        await asyncio.wait(tasks, timeout=deadline)
        wall = time.perf_counter() - started
        streams = []
        for task in tasks:
            if task.done():
                streams.append(task.result())
            else:
                task.cancel()
                streams.append(Stream(error=f"not finished within {deadline:g}s"))
        ticker.cancel()
        lags: list[float] = []
        if server_lag:
            lags = (await client.post("/_bench/lag", params={"reset": True})).json()["lag_s"]
        return streams, lags, client_lags, wall
