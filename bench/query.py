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
with every part. Results: `bench/results/query.json`. The parts are `bench.query_search`,
`bench.query_ttft` and `bench.query_streams`; the server children are `bench.query_servers`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import bench_database, write_results
from bench.corpus import ensure_corpus, make_corpus
from bench.machine import code_versions, load_line, machine_load
from bench.query_search import search_latency
from bench.query_servers import serve_lectern, serve_scripted
from bench.query_streams import streams_part
from bench.query_ttft import ttft_part

DATABASE = "lectern_bench_query"
CODE_UNDER_TEST = ("retrieval/search.py", "retrieval/filters.py", "retrieval/context.py",
                   "pipelines/answer/service.py", "pipelines/search/service.py",
                   "pipelines/llm/router.py", "pipelines/llm/streaming.py",
                   "pipelines/search/gate.py", "retrieval/fulltext.py", "app/routes/ask.py",
                   "app/sse.py", "app/deps.py", "app/auth.py", "ingest/embedding.py",
                   "app/serving/http_workers.py", "app/routes/metrics.py")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The asked parts on the benchmark database and its cached corpus: the results payload."""
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
    """The benchmark (writes `bench/results/query.json`), or one of its server children."""
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
