"""Query-side latency: search at 100k chunks, pipeline overhead to first token, 200 streams.

    .venv/bin/python -m bench.query                       # all three parts
    .venv/bin/python -m bench.query --parts search --queries 100
    .venv/bin/python -m bench.query --parts ttft streams --streams 200 --tokens 60
    .venv/bin/python -m bench.query --parts streams --web-workers 1 2

1. **search**: `retrieval.search.search` at `--chunks` (100,000) chunks, p50/p95 per mode
   (vector, text, hybrid), with no filter and with a selective one (a collection holding 1% of
   the chunks). The corpus is synthetic but shaped like a real one: chunk texts are windows of
   BEIR SciFact sentences (real English for the full-text index), vectors are random unit
   vectors scattered around 500 topic centroids (cosine ≈ 0.5 to the same topic's queries,
   like MiniLM's relevant pairs); rows go in by binary COPY with the indexes dropped, then the
   HNSW and GIN indexes are rebuilt with the migration's own definitions. The corpus is cached
   in the benchmark database (tenant `default`) and rebuilt only when its fingerprint changes.
   Baselines in the same run: a `SELECT 1` round trip, and the bare pgvector top-10 query
   (`ORDER BY embedding <=> q LIMIT 10`).
2. **ttft**: time to first token through the real app over HTTP (uvicorn in a child process,
   `create_app(build_container(...))`, retrieval over the 100k corpus) with a zero-latency
   `FakeProvider`, against the raw provider's own time to first token, and an HTTP round trip
   to the same server; the query embedding and the hybrid search alone are timed here too, to
   show where the overhead goes.
3. **streams**: `--streams` (200) concurrent `/v1/ask` SSE streams; the model is the scripted
   OpenAI-protocol server of the tests (its own process) streaming `--tokens` word pieces at
   ~50 tokens/s, reached through the real `openai` SDK adapter. Counted: HTTP errors, `error`
   events, streams without `done`, exceptions (must all be 0); measured: time to first token,
   stream duration, and event-loop lag in the server process (a 10 ms ticker task; a stall is
   a tick more than 50 ms late). Baseline: the same number of streams straight from the scripted
   server through the `openai` SDK. `--stream-provider fake` puts a `FakeProvider` sleeping 20 ms
   per token inside the server instead (no provider HTTP), isolating lectern's own cost.
   `--web-workers 1 2` then runs the same streams through the real `lectern serve --workers N`
   for each N (scripted model, same direct baseline, which is run again at the end), with the
   CPU the serving processes used (in cores) and their memory.

Everything is on loopback and bounded in time (`--deadline`). The load average is recorded
with every part. Results: `bench/results/query.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench._serve import (
    direct_fake_streams,
    lag_ticker,
    measured_streams,
    serve_summary,
    start_serve,
    stop_serve,
    summarise_streams,
)
from bench._support import (
    CENTROIDS,
    RARE_COLLECTION,
    TENANT,
    Corpus,
    Stream,
    ask_stream,
    code_versions,
    direct_streams,
    ensure_corpus,
    load_line,
    machine_load,
    make_corpus,
    percentile,
    questions,
    raw_provider_ttft,
    start_child,
    stop_child,
)
from bench.common import bench_database, format_table, write_results

DATABASE = "lectern_bench_query"
CODE_UNDER_TEST = ("retrieval/search.py", "retrieval/filters.py", "retrieval/context.py",
                   "pipelines/answer/service.py", "pipelines/search/service.py",
                   "pipelines/llm/router.py", "pipelines/llm/streaming.py",
                   "pipelines/search/gate.py", "retrieval/fulltext.py", "app/routes/ask.py",
                   "app/sse.py", "app/deps.py", "app/auth.py", "ingest/embedding.py",
                   "app/serving/http_workers.py", "app/routes/metrics.py")


# =========================================================================== 1. search


def search_latency(engine: Engine, corpus: Corpus, n_queries: int) -> dict[str, Any]:
    """p50/p95 of `search()` per mode × filter, interleaved query by query, plus baselines."""
    from sqlalchemy.orm import Session

    from retrieval.search import search
    from retrieval.types import SearchMode

    rng = np.random.default_rng(7)
    qvecs = corpus.vectors(rng, rng.integers(0, CENTROIDS, size=n_queries + 20))
    qtexts = questions()
    modes: tuple[SearchMode, ...] = ("vector", "text", "hybrid")
    configs = [(mode, flt) for mode in modes for flt in (None, RARE_COLLECTION)]
    lat: dict[str, list[float]] = {f"{m}/{f or 'none'}": [] for m, f in configs}
    found: dict[str, list[int]] = {k: [] for k in lat}
    base: dict[str, list[float]] = {"SELECT 1": [], "bare pgvector top-10": []}
    bare = text("SELECT id FROM chunks ORDER BY embedding <=> CAST(:q AS vector) LIMIT 10")
    for i in range(n_queries + 20):
        vector = [float(x) for x in qvecs[i]]
        question = qtexts[i % len(qtexts)]
        order = configs[i % len(configs):] + configs[: i % len(configs)]
        for mode, flt in order:
            started = time.perf_counter()
            with Session(engine) as session:
                hits = search(session, tenant=TENANT, query_text=question, query_vector=vector,
                              mode=mode, top_k=8, min_score=-1.0, collection=flt)
            took = time.perf_counter() - started
            if i >= 20:  # the first 20 rounds warm caches and prepared statements
                key = f"{mode}/{flt or 'none'}"
                lat[key].append(took)
                found[key].append(len(hits))
        for name in base:
            started = time.perf_counter()
            with Session(engine) as session:
                if name == "SELECT 1":
                    session.execute(text("SELECT 1")).all()
                else:
                    session.execute(bare, {"q": str(vector)}).all()
            if i >= 20:
                base[name].append(time.perf_counter() - started)
    bare_p50 = percentile(base["bare pgvector top-10"], 50)
    rows: list[tuple[Any, ...]] = []
    out: dict[str, Any] = {"queries": n_queries, "chunks": corpus.chunks,
                           "rare_share": 0.01, "modes": {}, "baselines": {}}
    for key, values in lat.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        mean_found = sum(found[key]) / len(found[key])
        out["modes"][key] = {"p50_ms": round(p50 * 1000, 2), "p95_ms": round(p95 * 1000, 2),
                             "mean_hits": round(mean_found, 2),
                             "p50_vs_bare_pgvector": round(p50 / bare_p50, 2)}
        rows.append((key, round(p50 * 1000, 2), round(p95 * 1000, 2),
                     f"{p50 / bare_p50:.2f}×", round(mean_found, 2)))
    for name, values in base.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        out["baselines"][name] = {"p50_ms": round(p50 * 1000, 2), "p95_ms": round(p95 * 1000, 2)}
        rows.append((f"[{name}]", round(p50 * 1000, 2), round(p95 * 1000, 2),
                     f"{p50 / bare_p50:.2f}×", "-"))
    print(format_table(("mode/filter", "p50 ms", "p95 ms", "p50 ÷ bare pgvector", "hits (of 8)"),
                       rows))
    return out


# =========================================================================== servers


def _free_port_file(tmp: Path, name: str) -> Path:
    """A fresh file for a child to write its port into (never one an earlier child wrote)."""
    return tmp / f"{name}-{uuid.uuid4().hex[:8]}.port"


def serve_scripted(port_file: Path, tokens: int, delay: float) -> None:
    """Child: the tests' scripted OpenAI-protocol server, streaming `tokens` pieces."""
    from tests.support import scripted_openai as so

    server = so.ScriptedOpenAI(models=("bench-model",))
    words = [f"word{n % 97}" for n in range(tokens)]
    server.default = so.text(" ".join(words), chunk_delay_s=delay)
    server.start()
    stop = asyncio.Event()
    port_file.write_text(str(server.port))

    async def wait() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()

    asyncio.run(wait())
    server.stop()


def serve_lectern(port_file: Path, database_url: str, provider: str, openai_url: str | None,
                  tokens: int, delay: float) -> None:
    """Child: the real app on uvicorn, with an event-loop lag ticker and two bench routes."""
    import uvicorn
    from fastapi import APIRouter

    from app.container import build_container
    from app.main import create_app
    from app.settings import Settings
    from pipelines.llm.config import parse_config
    from pipelines.llm.protocol import ChatProvider
    from pipelines.llm.providers.fake import FakeProvider, FakeStream

    base_url = openai_url or "http://127.0.0.1:9/v1"
    raw = {"providers": {"bench": {"kind": "openai", "base_url": base_url, "api_key": "k",
                                   "timeout_s": 120}},
           "models": [{"id": "bench-model", "provider": "bench", "tier": "mid",
                       "price_in_per_mtok": 0.1, "price_out_per_mtok": 0.2,
                       "context_tokens": 16384, "max_output_tokens": 256,
                       "tasks": ["answer"]}],
           "cache": {"enabled": False}}
    providers: dict[str, ChatProvider] | None = None
    if provider == "fake":  # zero latency, or `delay` seconds before each token
        reply = " ".join(f"word{n % 97}" for n in range(tokens))
        scripted = [FakeStream(reply, delay_s=delay)] * 100_000 if delay else []
        providers = {"bench": FakeProvider("bench", scripted, default_reply=reply)}
    container = build_container(Settings(), database_url=database_url, with_ocr=False,
                                llm_config=parse_config(raw, {}), llm_providers=providers)
    app = create_app(container)
    lags: list[float] = []
    bench = APIRouter(prefix="/_bench")

    @bench.get("/ping")
    async def ping() -> dict[str, str]:
        return {}

    @bench.post("/lag")
    async def lag(reset: bool = False) -> dict[str, Any]:
        values = list(lags)
        if reset:
            lags.clear()
        return {"ticks": len(values), "lag_s": values}

    app.include_router(bench)

    async def main() -> None:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                               access_log=False, lifespan="off"))
        tick = asyncio.create_task(lag_ticker(lags))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        port_file.write_text(str(port))
        await serving
        tick.cancel()

    try:
        asyncio.run(main())
    finally:
        container.close()


# =========================================================================== 2. ttft


def ttft_part(engine: Engine, url: str, tmp: Path, samples: int, tokens: int) -> dict[str, Any]:
    """Time to first token through the app with a zero-latency provider vs the raw provider."""
    import httpx
    from sqlalchemy.orm import Session

    from bench.common import load_embedder
    from retrieval.search import search

    qs = questions()
    port_file = _free_port_file(tmp, "lectern-fake")
    child, port = start_child(["serve", str(port_file), "--database-url", url,
                               "--provider", "fake", "--tokens", str(tokens)], port_file)
    try:
        async def run() -> tuple[list[Stream], list[float]]:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                         timeout=60.0) as client:
                for q in qs[:5]:  # warm-up: model, pool, prepared statements
                    await ask_stream(client, q, 4)
                streams, pings = [], []
                for q in qs[5 : 5 + samples]:
                    streams.append(await ask_stream(client, q, 4))
                    started = time.perf_counter()
                    await client.get("/_bench/ping")
                    pings.append(time.perf_counter() - started)
                return streams, pings

        streams, pings = asyncio.run(run())
    finally:
        stop_child(child)
    raw = asyncio.run(raw_provider_ttft(samples, tokens))
    # The pieces of retrieval, timed here on the same machine.
    embedder = load_embedder()
    embedder.embed(["warm-up"])
    embed_s, search_s = [], []
    for q in qs[5 : 5 + samples]:
        started = time.perf_counter()
        vector = embedder.embed([q])[0]
        embed_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        with Session(engine) as session:
            search(session, tenant=TENANT, query_text=q, query_vector=vector, mode="hybrid",
                   top_k=4, min_score=-1.0)
        search_s.append(time.perf_counter() - started)
    errors = [s.error for s in streams if s.error]
    ttfts = [s.ttft for s in streams if s.ttft is not None]
    server_ttft = [float(s.server_ttft_ms) / 1000 for s in streams if s.server_ttft_ms is not None]
    retrieval = [float(s.retrieval_ms) / 1000 for s in streams if s.retrieval_ms is not None]

    def ms(values: Sequence[float], q: float) -> float:
        return round(percentile(values, q) * 1000, 2)

    parts = {
        "app_ttft_ms (client, over HTTP)": ttfts,
        "raw_provider_ttft_ms": raw,
        "server_ttft_ms (answer() start to first token)": server_ttft,
        "server_retrieval_ms (embed + search in the request)": retrieval,
        "http_roundtrip_ms (GET /_bench/ping)": pings,
        "query_embedding_ms (alone, bench process)": embed_s,
        "hybrid_search_top4_ms (alone, bench process)": search_s,
    }
    out: dict[str, Any] = {"samples": samples, "errors": errors}
    for name, values in parts.items():
        out[name.split(" ")[0]] = {"p50": ms(values, 50), "p95": ms(values, 95)}
    print(format_table(("time to first token / part", "p50 ms", "p95 ms"),
                       [(name, ms(v, 50), ms(v, 95)) for name, v in parts.items()]))
    app, srv, ret = (percentile(v, 50) for v in (ttfts, server_ttft, retrieval))
    overhead = app - percentile(raw, 50)
    out["overhead_p50_ms"] = round(overhead * 1000, 2)
    out["overhead_split_p50_ms"] = {"retrieval": round(ret * 1000, 2),
                                    "after_retrieval": round((srv - ret) * 1000, 2),
                                    "outside_answer": round((app - srv) * 1000, 2)}
    print(f"  overhead to first token (app − raw provider), p50 {overhead * 1000:.1f} ms: "
          f"retrieval {ret * 1000:.1f} + prompt/router/provider start {(srv - ret) * 1000:.1f} "
          f"+ HTTP/auth/session/SSE outside answer() {(app - srv) * 1000:.1f} ms "
          f"(p50s, so the parts add up only roughly); errors {len(errors)}")
    return out


# =========================================================================== 3. streams


def streams_part(url: str, tmp: Path, n: int, tokens: int, deadline: float,
                 provider: str, web_workers: Sequence[int] = ()) -> dict[str, Any]:
    """`n` concurrent `/v1/ask` streams at ~50 tokens/s: errors, TTFT, duration, loop lag.

    `provider` "scripted": the scripted OpenAI server in its own process, reached through the
    `openai` SDK adapter; "fake": a `FakeProvider` inside the server sleeping 20 ms per token
    (no provider HTTP: isolates lectern's own cost per token).
    """
    qs = questions()
    children: list[subprocess.Popen[bytes]] = []
    lectern_file = _free_port_file(tmp, f"lectern-{provider}")
    try:
        if provider == "scripted":
            scripted_file = _free_port_file(tmp, "scripted")
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


# =========================================================================== main


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.omp_passive:  # before torch loads, here and in the server child (inherited)
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    print(f"bench.query: parts {' '.join(args.parts)}; {load_line()}", flush=True)
    results: dict[str, Any] = {"config": {k: v for k, v in vars(args).items()
                                          if k not in ("command",)},
                               "load_start": machine_load(),
                               "code": code_versions(*CODE_UNDER_TEST)}
    corpus = make_corpus(args.chunks, args.seed)
    with bench_database(DATABASE) as url, \
            tempfile.TemporaryDirectory(prefix="lectern-bench-query-") as tmp:
        from app.db.engine import make_engine

        engine = make_engine(url)
        try:
            results["corpus_built_now"] = ensure_corpus(engine, corpus, rebuild=args.rebuild)
            if "search" in args.parts:
                print(f"search latency at {args.chunks:,} chunks, {args.queries} queries per "
                      f"mode; {load_line()}", flush=True)
                results["search"] = search_latency(engine, corpus, args.queries)
                results["search"]["load"] = machine_load()
            if "ttft" in args.parts:
                print(f"time to first token, zero-latency provider; {load_line()}", flush=True)
                results["ttft"] = ttft_part(engine, url, Path(tmp), args.ttft_samples,
                                            args.tokens)
                results["ttft"]["load"] = machine_load()
            if "streams" in args.parts:
                print(f"{args.streams} concurrent streams at ~50 tokens/s; {load_line()}",
                      flush=True)
                results["streams"] = streams_part(url, Path(tmp), args.streams, args.tokens,
                                                  args.deadline, args.stream_provider,
                                                  args.web_workers)
        finally:
            engine.dispose()
    results["load_end"] = machine_load()
    print(load_line())
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="(internal) the lectern server child")
    serve.add_argument("port_file", type=Path)
    serve.add_argument("--database-url", required=True)
    serve.add_argument("--provider", choices=("fake", "openai"), default="fake")
    serve.add_argument("--openai-url")
    serve.add_argument("--tokens", type=int, default=60)
    serve.add_argument("--delay", type=float, default=0.0, help="fake: seconds per token")
    scripted = sub.add_parser("scripted", help="(internal) the scripted OpenAI server child")
    scripted.add_argument("port_file", type=Path)
    scripted.add_argument("--tokens", type=int, default=60)
    scripted.add_argument("--delay", type=float, default=0.02, help="seconds between tokens")
    parser.add_argument("--parts", nargs="+", choices=("search", "ttft", "streams"),
                        default=["search", "ttft", "streams"])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--rebuild", action="store_true", help="reload the corpus")
    parser.add_argument("--queries", type=int, default=200, help="per mode and filter")
    parser.add_argument("--ttft-samples", type=int, default=40)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=60, help="tokens per streamed answer")
    parser.add_argument("--stream-provider", choices=("scripted", "fake"), default="scripted",
                        help="the model behind the concurrent streams (see streams_part)")
    parser.add_argument("--omp-passive", action="store_true",
                        help="OMP_WAIT_POLICY=PASSIVE for torch (proposed; default as shipped)")
    parser.add_argument("--deadline", type=float, default=300.0,
                        help="seconds the concurrent streams may take in all")
    parser.add_argument("--web-workers", type=int, nargs="*", default=[], metavar="N",
                        help="also run the streams through `lectern serve --workers N` for "
                             "each N (scripted provider only)")
    args = parser.parse_args(argv)
    if args.web_workers and args.stream_provider != "scripted":
        parser.error("--web-workers needs --stream-provider scripted")
    if args.command == "serve":
        serve_lectern(args.port_file, args.database_url, args.provider, args.openai_url,
                      args.tokens, args.delay)
        return 0
    if args.command == "scripted":
        serve_scripted(args.port_file, args.tokens, args.delay)
        return 0
    results = run(args)
    path = write_results("query", results)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
