"""Search at scale: hybrid and vector latency, HNSW recall, build time, disk and memory.

    LECTERN_SHARED_DATA=/work/shared/data .venv/bin/python -m bench.query_scale --chunks 100000
    .venv/bin/python -m bench.query_scale --chunks 1000000 --drop   # free the disk afterwards

Each size lives in its own database (`lectern_scale_<chunks>`) of a PostgreSQL cluster of its
own (`--data-dir`, default `/var/tmp/lectern-bench-scale`; never the tests' or the other
benchmarks' clusters), migrated to head, then loaded once with the generated corpus of
`bench.scale_corpus` (real SciFact text, vectors shaped by the real embedder) by COPY, indexes
built afterwards; the load and build times are stored with the database and reported again by
later runs. The cluster runs with `--shared-buffers` (2GB: a quarter of a small server's RAM,
not the 128MB default) and `max_wal_size` 8GB for the bulk load; the index builds get
`maintenance_work_mem` 4GB (the 1M-chunk graph is ~2GB and must fit, or the build slows
badly) and `max_parallel_maintenance_workers` 1 (leader + one worker = the machine's 2 cores).

Queries are SciFact claims embedded by the real embedder; what is timed and how recall is
counted is in `bench.scale_measure`. Results: `bench/results/query_scale.json`, one entry per
size (a run replaces only its own size's entry), with settings, load average and the commit.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import RESULTS_DIR, format_table, write_results
from bench.machine import code_versions, load_line, machine_load
from bench.scale_corpus import VERSION, base_set, load, query_set
from bench.scale_measure import disk, latency_and_recall, memory

CODE_UNDER_TEST = ("retrieval/search.py", "retrieval/filters.py", "retrieval/fulltext.py",
                   "retrieval/types.py", "ingest/corpus.py", "bench/scale_corpus.py",
                   "bench/scale_measure.py")
SERVER_SETTINGS = {"max_wal_size": "8GB", "checkpoint_timeout": "15min"}
BUILD_SETTINGS = {"maintenance_work_mem": "4GB", "max_parallel_maintenance_workers": "1"}


def _server(data_dir: Path, database: str, shared_buffers: str) -> Any:
    """The benchmark cluster's server, restarted once if its settings had to change."""
    from app.db.embedded import EmbeddedDatabase

    wanted = {**SERVER_SETTINGS, "shared_buffers": shared_buffers}
    server = EmbeddedDatabase(data_dir, database=database)
    url = server.start()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        have = {k: conn.execute(sa.text("SELECT current_setting(:k)"), {"k": k}).scalar_one()
                for k in wanted}
        stale = {k: v for k, v in wanted.items() if have[k] != v}
        for key, value in stale.items():
            conn.execute(sa.text(f"ALTER SYSTEM SET {key} = '{value}'"))
    engine.dispose()
    if stale:
        print(f"  restarting the benchmark cluster for {stale}", flush=True)
        server.close()
        server = EmbeddedDatabase(data_dir, database=database)
        server.start()
    return server


def _ensure_loaded(url: str, args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    """The stored load record of this database, loading the corpus first if needed."""
    from pgvector.psycopg import register_vector

    from app.db.engine import make_engine, upgrade

    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bench_scale_meta "
                                 "(key text PRIMARY KEY, value jsonb NOT NULL)"))
            conn.commit()
            record = conn.execute(sa.text(
                "SELECT value FROM bench_scale_meta WHERE key = 'load'")).scalar_one_or_none()
        want = {"version": VERSION, "chunks": args.chunks, "seed": args.seed}
        if record and all(record.get(k) == v for k, v in want.items()) and not args.rebuild:
            return dict(record)
        base = base_set(cache, args.seed)
        raw = engine.raw_connection()
        try:
            conn_: Any = raw.driver_connection
            register_vector(conn_)
            cur = conn_.cursor()
            if cur.execute("SELECT count(*) FROM chunks").fetchone()[0]:
                raise SystemExit(f"{url} holds chunks already: rerun with --drop first")
            for key, value in BUILD_SETTINGS.items():
                cur.execute(f"SET {key} = '{value}'")
            load_before = machine_load()
            print(f"  loading {args.chunks:,} chunks; {load_line()}", flush=True)
            steps = load(conn_, base, args.chunks, args.seed)
        finally:
            raw.close()
        record = {**want, "steps_s": steps, "build_settings": BUILD_SETTINGS,
                  "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "load_before": load_before, "load_after": machine_load(),
                  "base_windows": len(base.windows)}
        with engine.connect() as conn:
            conn.execute(sa.text("INSERT INTO bench_scale_meta VALUES ('load', CAST(:v AS jsonb))"
                                 " ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
                         {"v": json.dumps(record)})
            conn.commit()
        return record
    finally:
        engine.dispose()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load (once) and measure one corpus size; the size's results entry."""
    from app.db.engine import make_engine

    database = f"lectern_scale_{args.chunks}"
    cache = args.data_dir / "cache"
    print(f"bench.query_scale: {args.chunks:,} chunks in {database}; {load_line()}", flush=True)
    entry: dict[str, Any] = {"chunks": args.chunks, "load_start": machine_load(),
                             "code": code_versions(*CODE_UNDER_TEST)}
    server = _server(args.data_dir, database, args.shared_buffers)
    try:
        url = server.url()
        entry["load"] = _ensure_loaded(url, args, cache)
        questions, vectors = query_set(cache, args.warmup + args.queries)
        engine = make_engine(url)
        exact = sa.create_engine(url, connect_args={"options": "-c enable_indexscan=off"})
        try:
            print(f"  timing {args.queries} queries per configuration; {load_line()}",
                  flush=True)
            entry["search"] = latency_and_recall(
                engine, exact, questions, vectors, depths=args.candidates, warmup=args.warmup,
                queries=args.queries, recall_queries=min(args.recall_queries, args.queries))
            entry["search"]["load"] = machine_load()
            entry["disk_bytes"] = disk(engine)
            entry["memory"] = memory(engine, server.pid)
        finally:
            engine.dispose()
            exact.dispose()
        if args.drop:
            admin = sa.create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{database}" WITH (FORCE)'))
            admin.dispose()
            entry["dropped_after"] = True
    finally:
        server.close()
    entry["load_end"] = machine_load()
    _print(entry)
    return entry


def _print(entry: dict[str, Any]) -> None:
    rows = [(c["mode"], c["filter"], c["candidates"], c["ef_search"], c["p50_ms"], c["p95_ms"],
             c.get("recall_at_10", "-"), c["mean_hits"]) for c in entry["search"]["configs"]]
    print(format_table(("mode", "filter", "candidates", "ef_search", "p50 ms", "p95 ms",
                        "recall@10", "hits"), rows))
    gb = 2**30
    sizes = ", ".join(f"{k} {v / gb:.2f} GB" for k, v in entry["disk_bytes"].items())
    print(f"build: {entry['load']['steps_s']}\ndisk: {sizes}\nmemory: {entry['memory']}")
    print(load_line())


def main(argv: Sequence[str] | None = None) -> int:
    """Measure one size and merge it into `bench/results/query_scale.json`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--queries", type=int, default=200, help="timed, per configuration")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--recall-queries", type=int, default=200)
    parser.add_argument("--candidates", type=int, nargs="+", default=[40, 100, 200],
                        help="list depths (lectern's ef_search = max(40, depth))")
    parser.add_argument("--shared-buffers", default="2GB")
    parser.add_argument("--data-dir", type=Path, default=Path("/var/tmp/lectern-bench-scale"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--drop", action="store_true", help="drop the database when done")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    entry = run(args)
    entry["command"] = f"python -m bench.query_scale {' '.join(argv or _argv())}".strip()
    entry["wall_s"] = round(time.perf_counter() - started, 1)
    path = RESULTS_DIR / "query_scale.json"
    sizes = json.loads(path.read_text()).get("sizes", {}) if path.exists() else {}
    sizes[str(args.chunks)] = entry
    out = write_results("query_scale", {"sizes": dict(sorted(sizes.items(),
                                                             key=lambda kv: int(kv[0])))})
    print(f"results: {out}")
    return 0


def _argv() -> list[str]:
    import sys

    return sys.argv[1:]


if __name__ == "__main__":
    raise SystemExit(main())
