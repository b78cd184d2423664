"""The generated corpus of `bench.query_scale`: real text, real-embedding-shaped vectors, COPY.

Both halves of hybrid search need data that behaves like a real corpus:

- **text**: each chunk is a window of two consecutive sentences of one SciFact abstract (its
  *primary* window) plus one sentence of another abstract (its *secondary*), so the full-text
  index sees real English with real term statistics;
- **vectors**: the base windows are embedded once by lectern's real embedder
  (all-MiniLM-L6-v2, cached in the data directory); a chunk's vector is
  `normalise((1-λ)·v_primary + λ·v_secondary + ε)` with λ ~ U(0, 0.5) and ε Gaussian of norm
  ≈ `NOISE`, i.e. it lies near the embedding of the text it carries. Neighbourhoods are
  therefore as clustered as MiniLM's space (topics, near-duplicates sharing a window), not
  uniform noise, whose lack of structure makes HNSW recall meaningless either way.

Rows go in by binary COPY into a fresh database with the HNSW and GIN indexes dropped and the
`term_stats` insert trigger disabled; `term_stats` is then filled by the migration's own
backfill statement (the same counts the trigger would have written) and the indexes are
rebuilt from their own definitions, each step timed.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import load_embedder, shared_data_dir

TENANT = "default"
DIM = 384
BASE_WINDOWS = 20_000
NOISE = 0.15
CHUNKS_PER_DOC = 100
RARE_COLLECTION = "rare"  # 1% of the documents: the selective filter
VERSION = "scale-v1"
Vectors = np.ndarray[Any, np.dtype[np.float32]]


@dataclass(frozen=True)
class BaseSet:
    """The real texts the corpus recombines, and their real embeddings."""

    windows: list[list[str]]  # two consecutive sentences of one abstract
    vectors: Vectors


def _abstract_sentences() -> list[list[str]]:
    path = shared_data_dir() / "beir-scifact" / "corpus.jsonl"
    if not path.exists():
        raise SystemExit(f"{path} is missing: set LECTERN_SHARED_DATA to the shared data sets")
    out = []
    with path.open() as lines:
        for line in lines:
            text = json.loads(line)["text"]
            sentences = [s.strip() + "." for s in text.split(". ") if len(s.strip()) > 20]
            if len(sentences) >= 2:
                out.append(sentences)
    return out


def _cached_embeddings(cache: Path, texts: list[str]) -> Vectors:
    """The real embedder's vectors of `texts`, cached in `cache` (keyed by the texts)."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"embeddings-{key}.npy"
    if path.exists():
        loaded: Vectors = np.load(path)
        return loaded
    started = time.perf_counter()
    print(f"  embedding {len(texts):,} texts with the real embedder ...", flush=True)
    vectors = np.asarray(load_embedder().embed(texts), dtype=np.float32)
    print(f"  embedded in {time.perf_counter() - started:.0f}s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def base_set(cache: Path, seed: int) -> BaseSet:
    """`BASE_WINDOWS` sentence windows drawn from SciFact abstracts, with real embeddings."""
    abstracts = _abstract_sentences()
    every = [s[i : i + 2] for s in abstracts for i in range(len(s) - 1)]
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(every), size=min(BASE_WINDOWS, len(every)), replace=False))
    windows = [every[i] for i in picked]
    return BaseSet(windows, _cached_embeddings(cache, [" ".join(w) for w in windows]))


def query_set(cache: Path, count: int) -> tuple[list[str], Vectors]:
    """The first `count` SciFact claims and their real embeddings (all claims are embedded and
    cached once, whatever `count`)."""
    path = shared_data_dir() / "beir-scifact" / "queries.jsonl"
    with path.open() as lines:
        texts = [json.loads(line)["text"] for line in lines]
    if count > len(texts):
        raise SystemExit(f"only {len(texts)} SciFact claims: ask for fewer queries")
    return texts[:count], _cached_embeddings(cache, texts)[:count]


def _document_chunks(base: BaseSet, rng: np.random.Generator
                     ) -> tuple[list[str], Vectors]:
    """One document's chunk texts and vectors (see the module docstring)."""
    n = CHUNKS_PER_DOC
    primary = rng.integers(0, len(base.windows), size=n)
    secondary = rng.integers(0, len(base.windows), size=n)
    lam = rng.uniform(0.0, 0.5, size=(n, 1)).astype(np.float32)
    noise = rng.standard_normal((n, DIM)).astype(np.float32) * (NOISE / np.sqrt(DIM))
    raw = (1 - lam) * base.vectors[primary] + lam * base.vectors[secondary] + noise
    vectors: Vectors = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    texts = [" ".join(base.windows[p]) + " " + base.windows[s][int(p + s) % 2]
             for p, s in zip(primary, secondary, strict=True)]
    return texts, vectors


def load(conn: Any, base: BaseSet, chunks: int, seed: int) -> dict[str, float]:
    """Fill an empty, migrated database with the corpus; seconds per step.

    `conn` is a psycopg connection with pgvector registered; the caller has set
    `maintenance_work_mem` and `max_parallel_maintenance_workers` for the index builds.
    """
    rng = np.random.default_rng(seed)
    docs = chunks // CHUNKS_PER_DOC
    rare_docs = max(1, docs // 100)
    cur = conn.cursor()
    index_defs = cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chunks' AND indexname IN "
        "('ix_chunks_embedding_hnsw', 'ix_chunks_tsv') ORDER BY indexname").fetchall()
    for name, _ in index_defs:
        cur.execute(f"DROP INDEX {name}")
    cur.execute("ALTER TABLE chunks DISABLE TRIGGER chunks_term_stats_insert")
    steps: dict[str, float] = {}
    started = time.perf_counter()
    doc_ids = [uuid.UUID(int=int(rng.integers(0, 2**62)) << 64 | n) for n in range(docs)]
    with cur.copy("COPY documents (id, tenant_id, collection, filename, kind, content_type, "
                  "sha256, size_bytes, metadata, status, page_count, chunk_count) "
                  "FROM STDIN") as copy:
        for n, doc_id in enumerate(doc_ids):
            collection = RARE_COLLECTION if n < rare_docs else "main"
            copy.write_row((doc_id, TENANT, collection, f"doc-{n:06d}.pdf", "pdf",
                            "application/pdf", hashlib.sha256(doc_id.bytes).hexdigest(), 1000,
                            json.dumps({"bench": VERSION, "n": n}), "ready", 10,
                            CHUNKS_PER_DOC))
    columns = ("document_id, tenant_id, collection, ordinal, text, section, section_path, "
               "page_start, page_end, char_start, char_end, token_count, content_hash, "
               "embedding")
    with cur.copy(f"COPY chunks ({columns}) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["uuid", "text", "text", "int4", "text", "text", "text[]", "int4",
                        "int4", "int4", "int4", "int4", "text", "vector"])
        for n, doc_id in enumerate(doc_ids):
            collection = RARE_COLLECTION if n < rare_docs else "main"
            texts, vectors = _document_chunks(base, rng)
            for i, body in enumerate(texts):
                section = f"Section {i // 10 + 1}"
                copy.write_row((doc_id, TENANT, collection, i, body, section, [section],
                                i // 10 + 1, i // 10 + 1, 0, len(body), len(body) // 4,
                                hashlib.sha256(body.encode()).hexdigest(), vectors[i]))
            if n % 1000 == 999:
                print(f"    {(n + 1) * CHUNKS_PER_DOC:,} rows copied", flush=True)
    conn.commit()
    steps["copy_s"] = time.perf_counter() - started
    started = time.perf_counter()
    cur.execute("INSERT INTO term_stats (tenant_id, lexeme, df) SELECT tenant_id, lexeme, "
                "count(*) FROM chunks, unnest(tsvector_to_array(tsv)) AS lexeme "
                "GROUP BY tenant_id, lexeme")  # the migration's backfill: the trigger's counts
    cur.execute("ALTER TABLE chunks ENABLE TRIGGER chunks_term_stats_insert")
    conn.commit()
    steps["term_stats_s"] = time.perf_counter() - started
    for name, definition in index_defs:
        started = time.perf_counter()
        print(f"  building {name} ...", flush=True)
        cur.execute(definition)
        conn.commit()
        steps[f"{name}_s"] = time.perf_counter() - started
        print(f"  {name} built in {steps[f'{name}_s']:.0f}s", flush=True)
    started = time.perf_counter()
    conn.autocommit = True  # VACUUM runs outside a transaction
    cur.execute("VACUUM ANALYZE documents")
    cur.execute("VACUUM ANALYZE chunks")
    conn.autocommit = False
    steps["vacuum_analyze_s"] = time.perf_counter() - started
    return {k: round(v, 1) for k, v in steps.items()}
