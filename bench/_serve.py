"""The streams part of `bench.query`: against its own server child, or `lectern serve`.

- `concurrent_streams`: `n` `/v1/ask` SSE streams at once against a server on a loopback port,
  with a client-side event-loop lag ticker (and the server's, from the bench child's
  `/_bench/lag` route, when asked);
- `start_serve` / `stop_serve`: the real `lectern serve --workers N` (the CLI as a user runs
  it: settings from the environment, the scripted OpenAI server as its only model through a
  `LECTERN_CONFIG` file, no in-process ingestion) on the benchmark database;
- `tree_cpu_s`, `serve_summary`: CPU seconds of a process and its children, to see how many
  cores the serving processes actually used, and their resident memory;
- `direct_fake_streams`, `summarise_streams`: the fake provider's own streams (a baseline) and
  the printed and stored report of one run against its direct baseline.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from bench._support import (
    Stream,
    ask_stream,
    lag_summary,
    machine_load,
    percentile,
    wait_ready,
)
from bench.common import REPO_ROOT

TICK_S = 0.01
_MODEL_TOML = """\
[providers.bench]
kind = "openai"
base_url = "{base_url}"
api_key = "k"
timeout_s = 120

[[models]]
id = "bench-model"
provider = "bench"
tier = "mid"
price_in_per_mtok = 0.1
price_out_per_mtok = 0.2
context_tokens = 16384
max_output_tokens = 256
tasks = ["answer"]

[cache]
enabled = false
"""


async def lag_ticker(lags: list[float]) -> None:
    """Until cancelled, append how late each `TICK_S` sleep of the running loop woke (s)."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(TICK_S)
        lags.append(loop.time() - started - TICK_S)


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(database_url: str, openai_url: str, workers: int, tmp: Path,
                timeout: float = 300.0) -> tuple[subprocess.Popen[bytes], int, Path]:
    """`lectern serve --workers N --no-worker` on a free port, once every worker is ready.

    Returns the process, its port and its log file (stdout and stderr).
    """
    config = tmp / "bench-llm.toml"
    config.write_text(_MODEL_TOML.format(base_url=openai_url))
    port = _free_port()
    log_path = tmp / f"serve-{workers}-{port}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "LECTERN_DATABASE_URL": database_url, "LECTERN_CONFIG": str(config),
           "LECTERN_HOST": "127.0.0.1", "LECTERN_PORT": str(port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log_path.open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "app.cli.main", "serve", "--no-worker",
                                  "--workers", str(workers)], cwd=REPO_ROOT, env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
    wait_ready(child, lambda: _ready(port, log_path, workers), timeout=timeout, stop=stop_serve,
               what=f"lectern serve (log: {log_path})")
    return child, port, log_path


def _ready(port: int, log_path: Path, workers: int) -> bool:
    """Healthy, and (several workers) each worker has logged that it is ready."""
    import httpx

    if workers > 1 and len(re.findall(rb"HTTP worker \d+ ready", log_path.read_bytes())) < workers:
        return False
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stop_serve(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the parent stops its workers), then SIGKILL the whole tree after 60 s."""
    if child.poll() is not None:
        return
    try:
        tree = psutil.Process(child.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(60)
    except subprocess.TimeoutExpired:
        for process in tree:
            process.kill()
        child.kill()
        child.wait(10)


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` and its live children."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in (root, *root.children(recursive=True)):
            times = process.cpu_times()
            total += times.user + times.system
    except psutil.NoSuchProcess:
        pass
    return total


def serve_summary(child: subprocess.Popen[bytes], cpu_s: float, wall: float) -> dict[str, Any]:
    """CPU the serving processes used during the streams, in cores, and their memory."""
    rss = 0
    try:
        root = psutil.Process(child.pid)
        for process in (root, *root.children(recursive=True)):
            rss += process.memory_info().rss
    except psutil.NoSuchProcess:
        pass
    return {"cpu_s": round(cpu_s, 2), "cores_used": round(cpu_s / wall, 2) if wall else None,
            "rss_mb": round(rss / 2**20)}


async def direct_fake_streams(n: int, tokens: int) -> list[Stream]:
    """The baseline for the fake provider: `n` of its 20 ms/token streams read directly."""
    from pipelines.llm.providers.fake import FakeProvider, FakeStream
    from pipelines.llm.types import ChatRequest, Message, TextDelta

    reply = " ".join(f"word{n % 97}" for n in range(tokens))
    provider = FakeProvider("bench", [FakeStream(reply, delay_s=0.02)] * n)
    request = ChatRequest(messages=(Message("user", "question"),), model="bench-model")

    async def one() -> Stream:
        out = Stream()
        started = time.perf_counter()
        async for item in provider.stream(request):
            if isinstance(item, TextDelta):
                out.tokens += 1
                if out.ttft is None:
                    out.ttft = time.perf_counter() - started
        out.done = True
        out.duration = time.perf_counter() - started
        return out

    return list(await asyncio.gather(*(one() for _ in range(n))))


def summarise_streams(streams: list[Stream], direct: list[Stream], server_lags: list[float],
                      client_lags: list[float], wall: float, direct_wall: float,
                      load_before: dict[str, Any], tokens: int) -> dict[str, Any]:
    errors = [s.error for s in streams if s.error]
    derrors = [s.error for s in direct if s.error]

    def dist(values: Sequence[float]) -> dict[str, float]:
        return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3),
                "max": round(max(values, default=float("nan")), 3)}

    ttft = [s.ttft for s in streams if s.ttft is not None]
    dttft = [s.ttft for s in direct if s.ttft is not None]
    rate = [s.tokens / (s.duration - s.ttft) for s in streams
            if s.ttft is not None and s.duration > s.ttft and s.tokens > 1]
    drate = [s.tokens / (s.duration - s.ttft) for s in direct
             if s.ttft is not None and s.duration > s.ttft and s.tokens > 1]
    out: dict[str, Any] = {
        "streams": len(streams), "tokens_per_stream": tokens,
        "errors": len(errors), "error_samples": sorted(set(errors))[:5],
        "incomplete_tokens": sum(s.tokens != tokens for s in streams if not s.error),
        "wall_s": round(wall, 2),
        "ttft_s": dist(ttft), "ttft_over_10s": sum(t > 10 for t in ttft),
        "server_retrieval_s": dist([s.retrieval_ms / 1000 for s in streams
                                    if s.retrieval_ms is not None]),
        "server_ttft_s": dist([s.server_ttft_ms / 1000 for s in streams
                               if s.server_ttft_ms is not None]),
        "ttft_min_s": round(min(ttft, default=float("nan")), 3),
        "duration_s": dist([s.duration for s in streams]),
        "tokens_per_s_per_stream": dist(rate),
        "server_loop_lag": lag_summary(server_lags),
        "client_loop_lag": lag_summary(client_lags),
        "direct_baseline": {"errors": len(derrors), "wall_s": round(direct_wall, 2),
                            "ttft_s": dist(dttft),
                            "duration_s": dist([s.duration for s in direct]),
                            "tokens_per_s_per_stream": dist(drate)},
        "load_before": load_before, "load_after": machine_load(),
    }
    out["wall_ratio_vs_direct"] = round(wall / direct_wall, 2)
    srv = out["server_loop_lag"]
    print(f"  inside the server: retrieval p50/p95 {out['server_retrieval_s']['p50']}/"
          f"{out['server_retrieval_s']['p95']} s, answer() to first token p50/p95 "
          f"{out['server_ttft_s']['p50']}/{out['server_ttft_s']['p95']} s; first stream's "
          f"TTFT {out['ttft_min_s']} s")
    print(f"  {len(streams)} concurrent /v1/ask streams of {tokens} tokens: errors "
          f"{len(errors)} (direct baseline errors {len(derrors)}); wall {wall:.1f}s vs direct "
          f"{direct_wall:.1f}s ({out['wall_ratio_vs_direct']}×)")
    print(f"  TTFT p50/p95/max {out['ttft_s']['p50']}/{out['ttft_s']['p95']}/"
          f"{out['ttft_s']['max']} s, {out['ttft_over_10s']} over 10 s (direct "
          f"{out['direct_baseline']['ttft_s']['p50']}/"
          f"{out['direct_baseline']['ttft_s']['p95']} s); per-stream rate p50 "
          f"{out['tokens_per_s_per_stream']['p50']} tok/s (direct "
          f"{out['direct_baseline']['tokens_per_s_per_stream']['p50']})")
    for name, lag in (("server", srv), ("client (baseline: same machine, light work)",
                                        out["client_loop_lag"])):
        if not lag["ticks"]:
            continue
        print(f"  {name} event loop: lag p50 {lag['p50_ms']} ms, p99 {lag['p99_ms']} ms, max "
              f"{lag['max_ms']} ms; {lag['stalls_over_50ms']} stalls >50 ms ({lag['stalled_s']} "
              f"s), {lag['over_100ms']} >100 ms, {lag['over_250ms']} >250 ms over "
              f"{lag['ticks']} ticks")
    if errors:
        print(f"  error samples: {out['error_samples']}")
    return out
