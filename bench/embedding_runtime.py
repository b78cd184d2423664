"""Embedding runtimes compared on the same chunks: torch, ONNX Runtime fp32 and int8.

    .venv/bin/python -m bench.embedding_runtime                 # 800 SciFact docs, all runtimes
    .venv/bin/python -m bench.embedding_runtime --docs 0        # the whole corpus (slow)

The chunks are SciFact abstracts cut by the real chunker (`bench.retrieval.page_for` +
`ingest.chunking.chunk_pages`). By default a documented subset of the corpus is used (this
machine is shared and small): every document relevant to a test query first, then the
corpus's others in file order up to `--docs`. The chunks are split into `--slices` slices;
each slice is embedded by every runtime in turn, the order rotated slice by slice, so every
runtime sees the same machine load, and each runtime embeds every chunk exactly once.
Figures per runtime: chunks/s and its ratio to torch (total and per slice: median, range),
cosine agreement with torch's vector of the same chunk (min, 1st percentile, mean), and
nDCG@10 / recall@100 of the test queries over the subset, through bench.retrieval's own code
path (the chunks stored with `ingest.store` by `bench.retrieval.ingest`, searched through
`retrieval.search` in vector and hybrid mode, no threshold), queries embedded by the same
runtime. ONNX exports are cached in `$LECTERN_BENCH_DATA_DIR/embedding-cache` (the first run
exports; the export time is reported). Results: `bench/results/embedding_runtime.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import create_engine

from bench import retrieval
from bench.common import (
    Stopwatch,
    bench_database,
    format_table,
    load_beir,
    load_embedder,
    shared_data_dir,
    write_results,
)
from bench.machine import code_versions, load_line, machine_load
from ingest.chunking import chunk_pages
from ingest.embedding import Embedder, default_model_path

DATABASE = "lectern_bench_embedding_runtime"
RUNTIMES = ("torch", "onnx", "onnx-int8")


class Precomputed:
    """An `Embedder` answering from vectors already measured (so storing costs no second
    pass), delegating token counts to the real one."""

    def __init__(self, inner: Embedder, vectors: dict[str, list[float]], name: str) -> None:
        self._inner, self._vectors, self.model_name = inner, vectors, name

    @property
    def dimension(self) -> int:
        """The real embedder's dimension."""
        return self._inner.dimension

    @property
    def max_tokens(self) -> int:
        """The real embedder's window."""
        return self._inner.max_tokens

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The measured vector of each text."""
        return [self._vectors[t] for t in texts]

    def count_tokens(self, text: str) -> int:
        """The real embedder's count."""
        return self._inner.count_tokens(text)


def subset(docs: int) -> tuple[dict[str, dict[str, str]], dict[str, str], dict[str, Any]]:
    """The corpus subset (relevant documents first), the test queries and their qrels."""
    corpus, queries, qrels = load_beir(shared_data_dir() / "beir-scifact", "test")
    if docs <= 0 or docs >= len(corpus):
        return corpus, queries, qrels
    relevant = {d for judged in qrels.values() for d in judged if d in corpus}
    ids = [d for d in corpus if d in relevant] + [d for d in corpus if d not in relevant]
    return {d: corpus[d] for d in ids[: max(docs, len(relevant))]}, queries, qrels


def load(runtime: str, threads: int | None) -> tuple[Embedder, float]:
    """The embedder for `runtime` and how long it took to load (export included)."""
    started = time.perf_counter()
    embedder = load_embedder(runtime, threads)
    embedder.embed(["warm-up"] * 8)
    return embedder, time.perf_counter() - started


def measure(embedders: dict[str, Embedder], texts: list[str], slices: int) -> dict[str, Any]:
    """Every runtime embeds every slice, the order rotated per slice; seconds and vectors."""
    seconds: dict[str, list[float]] = {name: [] for name in embedders}
    vectors: dict[str, list[list[float]]] = {name: [] for name in embedders}
    size = -(-len(texts) // slices)
    names = list(embedders)
    for number, start in enumerate(range(0, len(texts), size)):
        part = texts[start : start + size]
        for name in names[number % len(names):] + names[: number % len(names)]:
            began = time.perf_counter()
            vectors[name].extend(embedders[name].embed(part))
            seconds[name].append(time.perf_counter() - began)
        print(f"slice {number + 1}: " + ", ".join(
            f"{n} {seconds[n][-1]:.1f}s" for n in names) + f"  ({load_line()})", flush=True)
    return {"seconds": seconds, "vectors": vectors}


def agreement(vectors: list[list[float]], torch_vectors: list[list[float]]) -> dict[str, float]:
    """Cosine of each vector with torch's of the same chunk (both are unit length)."""
    cosine = np.sum(np.asarray(vectors) * np.asarray(torch_vectors), axis=1)
    return {"min": round(float(cosine.min()), 6), "p01": round(float(np.quantile(cosine, 0.01)), 6),
            "mean": round(float(cosine.mean()), 6),
            "max_distance": round(float(1 - cosine.min()), 6)}


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Measure every runtime in `args.runtimes`; return the result payload."""
    corpus, queries, qrels = subset(args.docs)
    embedders, load_seconds = {}, {}
    for name in args.runtimes:
        embedders[name], load_seconds[name] = load(name, args.threads)
        print(f"{name}: loaded in {load_seconds[name]:.1f}s", flush=True)
    counter = embedders[args.runtimes[0]]
    chunks = {d: chunk_pages([retrieval.page_for(doc)], token_counter=counter.count_tokens,
                             window=counter.max_tokens) for d, doc in corpus.items()}
    texts = [c.embed_text for doc_chunks in chunks.values() for c in doc_chunks]
    print(f"{len(corpus)} documents, {len(texts)} chunks, {len(queries)} queries; {load_line()}")
    load_before = machine_load()
    measured = measure(embedders, texts, args.slices)
    load_after = machine_load()
    root = shared_data_dir() / "beir-scifact"
    engine = create_engine(url)
    runtimes: dict[str, Any] = {}
    base = sum(measured["seconds"]["torch"]) if "torch" in embedders else None
    for name, embedder in embedders.items():
        seconds = measured["seconds"][name]
        entry: dict[str, Any] = {"load_seconds": round(load_seconds[name], 1),
                                 "seconds": round(sum(seconds), 1),
                                 "chunks_per_second": round(len(texts) / sum(seconds), 2)}
        if base is not None:
            per_slice = [t / s for t, s in zip(measured["seconds"]["torch"], seconds, strict=True)]
            entry["ratio_vs_torch"] = round(base / sum(seconds), 3)
            entry["ratio_per_slice"] = {"median": round(statistics.median(per_slice), 3),
                                        "min": round(min(per_slice), 3),
                                        "max": round(max(per_slice), 3)}
            entry["cosine_with_torch"] = agreement(measured["vectors"][name],
                                                   measured["vectors"]["torch"])
        by_text = dict(zip(texts, measured["vectors"][name], strict=True))
        stand_in = Precomputed(embedder, by_text, f"{default_model_path()}-{name}")
        fingerprint = hashlib.sha256(
            f"{retrieval.fingerprint_for(root, stand_in)}|{args.docs}".encode()).hexdigest()[:16]
        retrieval.ingest(engine, stand_in, corpus, fingerprint, Stopwatch(), log=lambda _: None)
        qvectors = dict(zip(queries, embedder.embed(list(queries.values())), strict=True))
        entry["retrieval"] = {mode: retrieval.evaluate(engine, queries, qvectors, qrels, mode, -1.0)
                              for mode in args.modes}
        runtimes[name] = entry
        print(f"{name}: {entry}", flush=True)
    engine.dispose()
    rows = [(n, e["chunks_per_second"], e.get("ratio_vs_torch", "-"),
             e.get("cosine_with_torch", {}).get("min", "-"),
             *(e["retrieval"][m]["ndcg@10"] for m in args.modes)) for n, e in runtimes.items()]
    print(format_table(("runtime", "chunks/s", "× torch", "min cosine",
                        *(f"nDCG@10 {m}" for m in args.modes)), rows))
    return {
        "command": "python -m bench.embedding_runtime " + " ".join(args.argv),
        "dataset": "BEIR SciFact test queries over "
                   + (f"a subset of {len(corpus)} documents (every relevant one first)"
                      if len(corpus) < 5183 else "the whole corpus"),
        "documents": len(corpus), "chunks": len(texts), "queries": len(queries),
        "slices": args.slices, "threads": args.threads or "all cores",
        "load_before": load_before, "load_after": load_after,
        "runtimes": runtimes,
        "code": code_versions("ingest/embedding.py", "ingest/onnx_embedding.py",
                              "ingest/onnx_export.py", "bench/embedding_runtime.py"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; writes `bench/results/embedding_runtime.json`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=800,
                        help="SciFact documents to use, relevant ones first (0: all 5,183)")
    parser.add_argument("--slices", type=int, default=6, help="interleaved slices of the chunks")
    parser.add_argument("--threads", type=int, default=None, help="threads per runtime")
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    parser.add_argument("--modes", nargs="+", default=["vector", "hybrid"],
                        choices=["vector", "text", "hybrid"])
    parser.add_argument("--database-url", help="use this database instead of the embedded one")
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    if args.database_url:
        payload = run(args.database_url, args)
    else:
        with bench_database(DATABASE) as url:
            payload = run(url, args)
    print(f"wrote {write_results('embedding_runtime', payload)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
