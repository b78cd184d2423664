"""Part 3 of `bench.query`: `n` concurrent `/v1/ask` streams, against their direct baseline.

- `streams_part`: the streams through the bench's own server child (scripted OpenAI model in
  its own process, or a `FakeProvider` inside the server), then the same number straight from
  the model (`direct_streams`, `direct_fake_streams`); with `--web-workers`, the same again
  through the real `lectern serve --workers N` for each N (`served_streams`);
- `summarise_streams`: the printed and stored report of one run against its baseline.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.corpus import questions
from bench.machine import load_line, machine_load
from bench.processes import (
    free_port_file,
    serve_summary,
    start_child,
    start_serve,
    stop_child,
    stop_serve,
)
from bench.streams import Stream, lag_summary, measured_streams
from bench.timing import percentile


def streams_part(url: str, tmp: Path, n: int, tokens: int, deadline: float,
                 provider: str, web_workers: Sequence[int] = ()) -> dict[str, Any]:
    """`n` concurrent `/v1/ask` streams at ~50 tokens/s: errors, TTFT, duration, loop lag.

    `provider` "scripted": the scripted OpenAI server in its own process, reached through the
    `openai` SDK adapter; "fake": a `FakeProvider` inside the server sleeping 20 ms per token
    (no provider HTTP: isolates lectern's own cost per token).
    """
    qs = questions()
    children: list[subprocess.Popen[bytes]] = []
    lectern_file = free_port_file(tmp, f"lectern-{provider}")
    try:
        if provider == "scripted":
            scripted_file = free_port_file(tmp, "scripted")
            scripted, sport = start_child(["scripted", str(scripted_file), "--tokens",
                                           str(tokens)], scripted_file, timeout=60)
            children.append(scripted)
            serve_args = ["--provider", "openai", "--openai-url", f"http://127.0.0.1:{sport}/v1"]
        else:
            serve_args = ["--provider", "fake", "--delay", "0.02"]
        lectern, lport = start_child(["serve", str(lectern_file), "--database-url", url,
                                      "--tokens", str(tokens), *serve_args], lectern_file)
        children.append(lectern)
    except BaseException:
        for child in children:
            stop_child(child)
        raise
    try:
        streams, server_lags, client_lags, wall, cpu, load_before = measured_streams(
            lectern.pid, lport, qs, n, deadline, server_lag=True)
        stop_child(lectern)
        direct_started = time.perf_counter()
        if provider == "scripted":
            direct = asyncio.run(direct_streams(f"http://127.0.0.1:{sport}/v1", n))
        else:
            direct = asyncio.run(direct_fake_streams(n, tokens))
        direct_wall = time.perf_counter() - direct_started
        out = summarise_streams(streams, direct, server_lags, client_lags, wall, direct_wall,
                                load_before, tokens)
        out["server_cpu_cores"] = round(cpu / wall, 2)
        print(f"  server process: {out['server_cpu_cores']} cores busy on average")
        if web_workers:
            out["web_workers"] = {str(w): served_streams(url, sport, tmp, w, qs, n, tokens,
                                                         deadline, direct, direct_wall)
                                  for w in web_workers}
            started = time.perf_counter()
            again = asyncio.run(direct_streams(f"http://127.0.0.1:{sport}/v1", n))
            out["direct_after"] = {"wall_s": round(time.perf_counter() - started, 2),
                                   "errors": sum(s.error is not None for s in again)}
            print(f"  direct baseline again: wall {out['direct_after']['wall_s']} s; "
                  f"{load_line()}")
    finally:
        for child in reversed(children):
            stop_child(child)
    return out


def served_streams(url: str, sport: int, tmp: Path, workers: int, qs: Sequence[str], n: int,
                   tokens: int, deadline: float, direct: list[Stream],
                   direct_wall: float) -> dict[str, Any]:
    """The same streams against `lectern serve --workers N` (the CLI, scripted model)."""
    print(f"{n} concurrent streams through `lectern serve --workers {workers}`; {load_line()}",
          flush=True)
    child, port, _ = start_serve(url, f"http://127.0.0.1:{sport}/v1", workers, tmp)
    try:
        streams, _, client_lags, wall, cpu, load_before = measured_streams(
            child.pid, port, qs, n, deadline, server_lag=False)
        out = summarise_streams(streams, direct, [], client_lags, wall, direct_wall,
                                load_before, tokens)
        out["serve"] = serve_summary(child, cpu, wall)
        print(f"  serving processes: {out['serve']['cores_used']} cores busy on average, "
              f"{out['serve']['rss_mb']} MB resident")
        return out
    finally:
        stop_serve(child)


async def direct_streams(base_url: str, n: int) -> list[Stream]:
    """The baseline: `n` concurrent streams straight from the scripted server (openai SDK)."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0, timeout=120.0)

    async def one(i: int) -> Stream:
        out = Stream()
        started = time.perf_counter()
        try:
            stream = await client.chat.completions.create(
                model="bench-model", stream=True,
                messages=[{"role": "user", "content": f"question {i}"}])
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    out.tokens += 1
                    if out.ttft is None:
                        out.ttft = time.perf_counter() - started
            out.done = True
        except Exception as exc:
            out.error = f"{type(exc).__name__}: {exc}"
        out.duration = time.perf_counter() - started
        return out

    try:
        return list(await asyncio.gather(*(one(i) for i in range(n))))
    finally:
        await client.close()


async def direct_fake_streams(n: int, tokens: int) -> list[Stream]:
    """The baseline for the fake provider: `n` of its 20 ms/token streams read directly."""
    from pipelines.llm import ChatRequest, FakeProvider, FakeStream, Message, TextDelta

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
    """Print one run's errors, TTFT, rates and loop lags against its direct baseline, and
    return them for the JSON."""
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
