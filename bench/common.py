"""Shared helpers for the benchmarks: where data lives, where results go, a database to run on.

Benchmarks are scripts, not library code, so they may read the environment:
`LECTERN_SHARED_DATA` (default `../shared/data` next to the repository) holds the read-only data
sets, and `LECTERN_BENCH_DATA_DIR` (default `/tmp/lectern-bench`, outside the repository) holds
the embedded PostgreSQL cluster the benchmarks run on, kept between runs so expensive steps
(embedding a corpus) can be cached in the database. Results are written as JSON to
`bench/results/<name>.json`.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.embedding import Embedder

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
Qrels = dict[str, dict[str, int]]
"""BEIR relevance judgements: query id → {document id: grade}."""


def shared_data_dir() -> Path:
    """The shared, read-only data sets (never copied into the repository)."""
    configured = os.environ.get("LECTERN_SHARED_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


def bench_data_dir() -> Path:
    """Where the benchmark database cluster lives: outside the repository and `/root`."""
    return Path(os.environ.get("LECTERN_BENCH_DATA_DIR", "/tmp/lectern-bench"))


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write `payload` (plus when and where it ran) to `bench/results/<name>.json`."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "platform": platform.platform(),
        },
        **payload,
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path


@contextmanager
def bench_database(database: str) -> Iterator[str]:
    """Start (or reuse) the embedded benchmark server, ensure `database` exists and is migrated
    to head, and yield its SQLAlchemy URL. The server stops when the block exits (unless
    another process still uses it); the data stays for the next run."""
    from app.db.embedded import EmbeddedDatabase
    from app.db.engine import upgrade

    server = EmbeddedDatabase(bench_data_dir(), database=database)
    url = server.start()
    try:
        upgrade(url)
        yield url
    finally:
        server.close()


def load_embedder(runtime: str | None = None, threads: int | None = None) -> Embedder:
    """The real embedder (bundled offline all-MiniLM-L6-v2; the hub is never contacted) on
    `runtime`: torch, or its ONNX export ("onnx", "onnx-int8") cached in the bench data dir;
    None: the runtime a server started now would use (`LECTERN_EMBEDDING_RUNTIME` or the
    default), so a benchmark's own timings match its server child's."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from app.settings_embedding import EmbeddingRuntimeSettings
    from ingest.embedding import SentenceTransformerEmbedder, default_model_path

    runtime = runtime or EmbeddingRuntimeSettings().runtime

    if runtime == "torch":
        return SentenceTransformerEmbedder(default_model_path(), threads=threads)
    from ingest.onnx_embedding import OnnxEmbedder

    return OnnxEmbedder(default_model_path(), runtime=runtime, threads=threads,
                        cache_dir=bench_data_dir() / "embedding-cache")


def text_layer_worker(url: str, tenant: str) -> tuple[Any, Any, Any]:
    """The engine, session factory and a `Worker` (real embedder, no OCR pool, a 600 s lease)
    on the benchmark database at `url`, with `tenant`'s documents of earlier runs deleted."""
    from sqlalchemy import delete

    from app.db.engine import make_engine, session_factory
    from ingest.corpus import Document
    from ingest.pipeline import IngestContext
    from pipelines import ingestion

    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as session:
        session.execute(delete(Document).where(Document.tenant_id == tenant))
        session.commit()
    worker = ingestion.Worker(sessions, IngestContext(embedder=load_embedder(), ocr=None),
                              lease_seconds=600.0)
    return engine, sessions, worker


@dataclass
class Stopwatch:
    """Named wall-clock laps, for the "where did the time go" line of a benchmark."""

    laps: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def lap(self, name: str) -> Iterator[None]:
        """Time the block and add it to `laps[name]` (seconds)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.laps[name] = self.laps.get(name, 0.0) + time.perf_counter() - start


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width text table (floats to 4 places)."""
    cells = [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def load_beir(root: Path, split: str) -> tuple[dict[str, dict[str, str]], dict[str, str], Qrels]:
    """Corpus (`_id` → title/text), the split's queries and its qrels, as BEIR lays them out."""
    corpus = {}
    with (root / "corpus.jsonl").open() as lines:
        for line in lines:
            row = json.loads(line)
            corpus[row["_id"]] = {"title": row.get("title", ""), "text": row["text"]}
    qrels: Qrels = {}
    with (root / "qrels" / f"{split}.tsv").open() as lines:
        next(lines)
        for line in lines:
            qid, doc_id, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(qid, {})[doc_id] = int(score)
    queries = {}
    with (root / "queries.jsonl").open() as lines:
        for line in lines:
            row = json.loads(line)
            if row["_id"] in qrels:
                queries[row["_id"]] = row["text"]
    return corpus, queries, qrels


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """nDCG@k with graded gains and a log2 discount (pytrec_eval's `ndcg_cut`)."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the first `k`."""
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def measure_throughput(embedder: Embedder, texts: Sequence[str]) -> dict[str, float]:
    """Raw embedding throughput on `texts` (one `embed` call, after a warm-up batch)."""
    embedder.embed(list(texts[:16]))
    start = time.perf_counter()
    embedder.embed(list(texts))
    seconds = time.perf_counter() - start
    tokens = sum(embedder.count_tokens(t) for t in texts)
    return {
        "load_average_1m": round(os.getloadavg()[0], 2),
        "texts": len(texts),
        "seconds": round(seconds, 2),
        "texts_per_second": round(len(texts) / seconds, 1),
        "tokens_per_second": round(tokens / seconds, 1),
    }
