"""What `bench.query_scale` measures on one loaded corpus: latency, recall, disk, memory.

- **latency**: `retrieval.search.search` (lectern's own hybrid and vector statements, in a
  fresh `Session` per query as a request has) for vector and hybrid × no filter and the 1%
  collection × each `candidates` depth; lectern sets `hnsw.ef_search = max(40, depth)` and
  `hnsw.iterative_scan = relaxed_order` itself (`retrieval.filters.configure_index_scan`), so
  depth 40 / 100 (the default) / 200 are ef_search 40 / 100 / 200. Configurations are
  interleaved query by query (each sees the same machine load), after warm-up rounds.
- **recall@10**: the same calls' top 10 against the exact top 10 of the same `search()` run on a
  separate engine whose connections have `enable_indexscan = off` (a sequential scan ordered
  by the exact distance; a separate connection because psycopg prepares a statement after 5
  runs and keeps its plan). Vector: against the exact nearest 10. Hybrid: against hybrid
  search whose vector list is exact (same depth, same full-text list).
- **disk**: `pg_relation_size` of the heap, its TOAST, each index; **memory**: RSS/PSS/USS of
  the postmaster and its children, and which relations fill shared_buffers (pg_buffercache).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psutil
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.scale_corpus import RARE_COLLECTION, TENANT, Vectors
from bench.timing import percentile

TOP_K = 10
Config = tuple[str, str | None, int]  # mode, collection filter, candidates


def _ids(engine: Engine, mode: str, flt: str | None, candidates: int, question: str,
         vector: list[float]) -> tuple[list[int], float]:
    """Chunk ids of one `search()` call in a fresh session, and its wall seconds."""
    from sqlalchemy.orm import Session

    from retrieval.search import search

    started = time.perf_counter()
    with Session(engine) as session:
        hits = search(session, tenant=TENANT, query_text=question, query_vector=vector,
                      mode=mode, top_k=TOP_K, min_score=-1.0, collection=flt,  # type: ignore[arg-type]
                      candidates=candidates)
    return [h.chunk_id for h in hits], time.perf_counter() - started


def latency_and_recall(engine: Engine, exact: Engine, questions: Sequence[str],
                       vectors: Vectors, *, depths: Sequence[int], warmup: int,
                       queries: int, recall_queries: int) -> dict[str, Any]:
    """p50/p95 per configuration over `queries` queries after `warmup`, and recall@10 of the
    first `recall_queries` of them against exact search."""
    configs: list[Config] = [(m, f, c) for m in ("vector", "hybrid")
                             for f in (None, RARE_COLLECTION) for c in depths]
    lat: dict[Config, list[float]] = {c: [] for c in configs}
    got: dict[Config, list[list[int]]] = {c: [] for c in configs}
    started = time.perf_counter()
    for i in range(warmup + queries):
        vector = [float(x) for x in vectors[i]]
        order = configs[i % len(configs):] + configs[: i % len(configs)]
        for config in order:
            ids, took = _ids(engine, *config, questions[i], vector)
            if i >= warmup:
                lat[config].append(took)
                got[config].append(ids)
    timed_s = time.perf_counter() - started
    default_depth = 100 if 100 in depths else depths[len(depths) // 2]
    truth: dict[tuple[str, str | None], list[list[int]]] = {}
    started = time.perf_counter()
    for i in range(warmup, warmup + recall_queries):
        vector = [float(x) for x in vectors[i]]
        for flt in (None, RARE_COLLECTION):
            truth.setdefault(("vector", flt), []).append(
                _ids(exact, "vector", flt, TOP_K, questions[i], vector)[0])
            truth.setdefault(("hybrid", flt), []).append(
                _ids(exact, "hybrid", flt, default_depth, questions[i], vector)[0])
    exact_s = time.perf_counter() - started
    rows = []
    for config in configs:
        mode, flt, depth = config
        values = lat[config]
        row: dict[str, Any] = {
            "mode": mode, "filter": flt or "none", "candidates": depth,
            "ef_search": min(1000, max(40, depth)),
            "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1),
            "mean_hits": round(sum(len(g) for g in got[config]) / len(got[config]), 2),
        }
        if mode == "vector" or depth == default_depth:
            row["recall_at_10"] = round(_recall(got[config][:recall_queries],
                                                truth[(mode, flt)]), 4)
        rows.append(row)
    return {"configs": rows, "queries": queries, "warmup": warmup,
            "recall_queries": recall_queries, "timed_s": round(timed_s, 1),
            "exact_s": round(exact_s, 1),
            "exact_s_per_query": round(exact_s / max(1, recall_queries), 3)}


def _recall(found: list[list[int]], truth: list[list[int]]) -> float:
    """Mean share of the exact top 10 that the index search also returned."""
    shares = [len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True) if t]
    return sum(shares) / len(shares) if shares else float("nan")


def disk(engine: Engine) -> dict[str, Any]:
    """Bytes on disk: chunks' heap, TOAST and each index; other tables; the whole database."""
    with engine.connect() as conn:
        out: dict[str, Any] = {"chunks_heap": conn.execute(sa.text(
            "SELECT pg_relation_size('chunks')")).scalar_one()}
        out["chunks_toast"] = conn.execute(sa.text(
            "SELECT coalesce(pg_total_relation_size(reltoastrelid), 0) FROM pg_class "
            "WHERE relname = 'chunks'")).scalar_one()
        for name, size in conn.execute(sa.text(
                "SELECT indexname, pg_relation_size(indexname::regclass) FROM pg_indexes "
                "WHERE tablename = 'chunks' ORDER BY 2 DESC")).all():
            out[f"index:{name}"] = size
        for table in ("documents", "term_stats"):
            out[f"{table}_total"] = conn.execute(sa.text(
                f"SELECT pg_total_relation_size('{table}')")).scalar_one()
        out["database"] = conn.execute(sa.text(
            "SELECT pg_database_size(current_database())")).scalar_one()
    return {k: int(v) for k, v in out.items()}


def memory(engine: Engine, postmaster_pid: int) -> dict[str, Any]:
    """Resident memory of the server's processes and what its shared_buffers hold."""
    rss = pss = uss = 0
    root = psutil.Process(postmaster_pid)
    processes = [root, *root.children(recursive=True)]
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        rss, pss, uss = rss + info.rss, pss + info.pss, uss + info.uss
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_buffercache"))
        conn.commit()
        shared = conn.execute(sa.text("SELECT current_setting('shared_buffers')")).scalar_one()
        used = conn.execute(sa.text(
            "SELECT count(*) FILTER (WHERE relfilenode IS NOT NULL), count(*) "
            "FROM pg_buffercache")).one()
        by_rel = conn.execute(sa.text(
            "SELECT c.relname, count(*) * 8192 FROM pg_buffercache b JOIN pg_class c "
            "ON b.relfilenode = pg_relation_filenode(c.oid) AND b.reldatabase = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "GROUP BY c.relname ORDER BY 2 DESC LIMIT 6")).all()
    mb = 2**20
    return {"processes": len(processes), "rss_mb": round(rss / mb), "pss_mb": round(pss / mb),
            "uss_mb": round(uss / mb), "shared_buffers": shared,
            "shared_buffers_used_mb": round(used[0] * 8192 / mb),
            "shared_buffers_total_mb": round(used[1] * 8192 / mb),
            "cached_mb_by_relation": {name: round(size / mb) for name, size in by_rel}}
