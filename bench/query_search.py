"""Part 1 of `bench.query`: `search()` latency per mode and filter over the benchmark corpus.

Modes (vector, text, hybrid) × filters (none, a collection holding 1% of the chunks) are
interleaved query by query so that each sees the same machine load, after 20 warm-up rounds;
the baselines, measured in the same rounds, are a `SELECT 1` round trip and the bare pgvector
top-10 query.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.common import format_table
from bench.corpus import CENTROIDS, RARE_COLLECTION, TENANT, Corpus, questions
from bench.timing import percentile


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
