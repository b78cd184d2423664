"""Does `serve --workers 2` keep its gain over `--workers 1` when PostgreSQL has its own core?

    .venv/bin/python -m bench.scale_out
    .venv/bin/python -m bench.scale_out --chunks 20000 --seconds 15 --rounds 2 --concurrency 8

One PostgreSQL started on its own (`tests.support.standalone_postgres`: initdb + pg_ctl, as
in the scale-out topology of docs/deploy.md) holds the synthetic corpus of `bench.query`
(`--chunks` chunks, SciFact sentences, vectors around topic centroids). For N in 1, 2 the
real `lectern serve --workers N --no-worker` (`bench.processes.start_serve`) answers
`--concurrency` clients posting `/v1/search` (hybrid, the default: a query embedding in the
API process, then the vector and full-text search in PostgreSQL) as fast as they can for
`--seconds`, alternating in each of `--rounds` rounds between:

- **shared**: every process may run on every core (the default on one machine);
- **pinned**: the postmaster and its backends on core 1 only (`sched_setaffinity`, like
  `taskset -c 1`; backends forked later inherit it), every thread of the serve tree and this
  client on core 0.

Measured per window: searches per second, latency p50/p95, errors, and the CPU seconds the
serve tree and PostgreSQL used (in cores). The ratio workers-2 / workers-1 is quoted per mode
against the same run's figures, with the load average (the machine is shared). Results:
`bench/results/scale_out.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import write_results
from bench.corpus import ensure_corpus, make_corpus, questions
from bench.machine import code_versions, load_line, machine_load
from bench.processes import start_serve, stop_serve, tree_cpu_s

API_CORE, DATABASE_CORE = 0, 1
UNUSED_MODEL_URL = "http://127.0.0.1:9/v1"  # /v1/search never calls a model


def pin_tree(pid: int, cpus: Iterable[int]) -> None:
    """Every thread of process `pid` and of its descendants onto `cpus` (threads started
    later inherit their creator's affinity)."""
    cores = set(cpus)
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        try:
            tids = [thread.id for thread in process.threads()]
        except psutil.NoSuchProcess:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cores)
            except (ProcessLookupError, PermissionError):
                continue


def _pg_cpu_s(postgres: Any) -> float:
    total = 0.0
    for process in postgres.processes():
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


async def _load(url: str, queries: Sequence[str], concurrency: int, seconds: float
                ) -> tuple[list[float], int]:
    """`concurrency` clients posting `/v1/search` until `seconds` pass: latencies, errors."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one(worker: int) -> None:
            nonlocal errors
            n = worker
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post("/v1/search",
                                             json={"query": queries[n % len(queries)]})
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1
                n += concurrency

        await asyncio.gather(*(one(i) for i in range(concurrency)))
    return latencies, errors


def _window(url: str, serve_pid: int, postgres: Any, queries: Sequence[str], *,
            concurrency: int, seconds: float) -> dict[str, Any]:
    """One measured window: throughput, latency and the cores each side used."""
    asyncio.run(_load(url, queries, concurrency, min(3.0, seconds)))  # warm up this mode
    serve_cpu, pg_cpu, started = tree_cpu_s(serve_pid), _pg_cpu_s(postgres), time.perf_counter()
    latencies, errors = asyncio.run(_load(url, queries, concurrency, seconds))
    wall = time.perf_counter() - started
    serve_used, pg_used = tree_cpu_s(serve_pid) - serve_cpu, _pg_cpu_s(postgres) - pg_cpu
    ordered = sorted(latencies)
    return {
        "searches_per_s": round(len(latencies) / wall, 2),
        "requests": len(latencies), "errors": errors,
        "p50_ms": round(1000 * ordered[len(ordered) // 2], 1) if ordered else None,
        "p95_ms": round(1000 * ordered[int(len(ordered) * 0.95)], 1) if ordered else None,
        "serve_cores": round(serve_used / wall, 2), "postgres_cores": round(pg_used / wall, 2),
        "load": _load_now(),
    }


def _load_now() -> dict[str, Any]:
    """The load average, with the machine's CPUs (not this process's, pinned or not)."""
    return {**machine_load(), "cpus": os.cpu_count()}


def _load_text() -> str:
    load = _load_now()
    return (f"load average {load['load_1m']} / {load['load_5m']} / {load['load_15m']} on "
            f"{load['cpus']} CPUs")


def _set_mode(mode: str, serve_pid: int, postgres: Any) -> None:
    everywhere = set(range(os.cpu_count() or 1))
    if mode == "pinned":
        postgres.pin({DATABASE_CORE})
        pin_tree(serve_pid, {API_CORE})
        os.sched_setaffinity(0, {API_CORE})
    else:
        postgres.pin(everywhere)
        pin_tree(serve_pid, everywhere)
        os.sched_setaffinity(0, everywhere)


def run(chunks: int, seconds: float, rounds: int, concurrency: int, web_workers: Sequence[int]
        ) -> dict[str, Any]:
    """Start the database, load the corpus, measure each N in each mode; the results."""
    from app.db.engine import make_engine, upgrade
    from tests.support import standalone_postgres
    from tests.support.database import admin_sql, database_on

    bin_dir = standalone_postgres.find_bin_dir()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL binaries with pgvector found (see "
                         "tests/support/standalone_postgres.py)")
    postgres = standalone_postgres.start(
        bin_dir, settings={**standalone_postgres.FAST_SETTINGS, "max_connections": "200"})
    results: dict[str, Any] = {}
    try:
        admin_sql(postgres.url(), "CREATE DATABASE lectern")
        url = database_on(postgres.url(), "lectern")
        upgrade(url)
        engine = make_engine(url)
        ensure_corpus(engine, make_corpus(chunks, seed=11))
        engine.dispose()
        queries = questions()
        with tempfile.TemporaryDirectory(prefix="bench-scale-out-") as tmp:
            for workers in web_workers:
                try:
                    child, port, _ = start_serve(url, UNUSED_MODEL_URL, workers, Path(tmp))
                except RuntimeError:
                    for log in Path(tmp).glob("serve-*.log"):
                        print(log.read_text(errors="replace")[-3000:])
                    raise
                windows: dict[str, list[dict[str, Any]]] = {"shared": [], "pinned": []}
                try:
                    for _ in range(rounds):
                        for mode in ("shared", "pinned"):
                            _set_mode(mode, child.pid, postgres)
                            window = _window(f"http://127.0.0.1:{port}", child.pid, postgres,
                                             queries, concurrency=concurrency, seconds=seconds)
                            windows[mode].append(window)
                            print(f"  workers={workers} {mode:6} {window['searches_per_s']:7.1f}"
                                  f" searches/s p50 {window['p50_ms']} ms, serve "
                                  f"{window['serve_cores']} cores, postgres "
                                  f"{window['postgres_cores']} cores, errors "
                                  f"{window['errors']} ({_load_text()})", flush=True)
                finally:
                    _set_mode("shared", child.pid, postgres)
                    stop_serve(child)
                results[str(workers)] = windows
    finally:
        postgres.stop()
    return results


def _median(windows: list[dict[str, Any]]) -> float:
    return float(statistics.median(w["searches_per_s"] for w in windows))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--web-workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    print(f"scale-out: {load_line()}", flush=True)
    started_load = _load_now()
    results = run(args.chunks, args.seconds, args.rounds, args.concurrency, args.web_workers)
    summary: dict[str, Any] = {}
    for mode in ("shared", "pinned"):
        medians = {n: _median(windows[mode]) for n, windows in results.items()}
        summary[mode] = {"median_searches_per_s": medians}
        if "1" in medians and "2" in medians and medians["1"]:
            summary[mode]["workers_2_over_1"] = round(medians["2"] / medians["1"], 2)
        print(f"{mode}: median searches/s by workers {medians}; "
              f"2 / 1 = {summary[mode].get('workers_2_over_1')}", flush=True)
    path = write_results("scale_out", {
        "command": "python -m bench.scale_out " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items()),
        "settings": vars(args), "cores": {"api": API_CORE, "postgres": DATABASE_CORE},
        "load_at_start": started_load, "load_at_end": _load_now(),
        "summary": summary, "windows": results,
        "code": code_versions("bench/scale_out.py", "app/serving/http_workers.py",
                              "retrieval/search.py", "pipelines/search/service.py"),
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
