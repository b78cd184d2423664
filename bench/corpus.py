"""The synthetic corpus of `bench.query` (see its docstring): SciFact sentences as texts,
random unit vectors around topic centroids, loaded by binary COPY with the indexes dropped,
cached in the benchmark database by fingerprint; and the SciFact claims its queries ask.

Without the shared data both fall back to generated text, so the timings still run.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.common import shared_data_dir

TENANT = "default"  # the tenant of requests while no API key exists: the app searches it
DIM = 384
CENTROIDS = 500
SPREAD = 1.0  # noise norm relative to the centroid: cosine(chunk, centroid) ≈ 1/√2
CHUNKS_PER_DOC = 100
RARE_COLLECTION = "rare"


@dataclass(frozen=True)
class Corpus:
    """The cached corpus's shape: size, seed, and the topic centroids queries are drawn from."""

    chunks: int
    seed: int
    centroids: np.ndarray[Any, np.dtype[np.float32]]

    @property
    def fingerprint(self) -> str:
        """Names this corpus in the database (`metadata->>'bench'`): another shape is rebuilt."""
        return hashlib.sha256(f"v1:{self.chunks}:{self.seed}:{CENTROIDS}:{SPREAD}".encode()
                              ).hexdigest()[:16]

    def vectors(self, rng: np.random.Generator, topics: np.ndarray[Any, Any]
                ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Unit vectors around the given topics' centroids."""
        noise = rng.standard_normal((len(topics), DIM)).astype(np.float32)
        noise *= SPREAD / np.sqrt(DIM)
        raw = self.centroids[topics] + noise
        out: np.ndarray[Any, np.dtype[np.float32]] = raw / np.linalg.norm(raw, axis=1,
                                                                          keepdims=True)
        return out


def make_corpus(chunks: int, seed: int) -> Corpus:
    """The corpus of `chunks` chunks drawn from `seed`: its unit topic centroids, deterministic."""
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((CENTROIDS, DIM)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return Corpus(chunks, seed, centroids)


def scifact_sentences() -> list[str]:
    """Sentences of the SciFact abstracts (falls back to generated text without the data)."""
    path = shared_data_dir() / "beir-scifact" / "corpus.jsonl"
    if not path.exists():
        words = ["cell", "protein", "gene", "risk", "patients", "study", "effect", "level",
                 "increase", "blood"]
        rng = random.Random(1)
        return [" ".join(rng.choices(words, k=20)) + "." for _ in range(20_000)]
    sentences: list[str] = []
    with path.open() as lines:
        for line in lines:
            row = json.loads(line)
            sentences += [s.strip() + "." for s in row["text"].split(". ") if len(s) > 20]
    return sentences


def questions() -> list[str]:
    """SciFact claims as questions (real wording for the text index and the embedder)."""
    path = shared_data_dir() / "beir-scifact" / "queries.jsonl"
    if not path.exists():
        return [f"What is known about protein {n} in blood cells?" for n in range(2000)]
    with path.open() as lines:
        return [json.loads(line)["text"] for line in lines]


def ensure_corpus(engine: Engine, corpus: Corpus, *, rebuild: bool = False) -> bool:
    """Load the corpus unless the database already holds this exact one; True if (re)built."""
    with engine.connect() as conn:
        have = conn.execute(text(
            "SELECT count(*) FROM documents WHERE tenant_id = :t AND metadata->>'bench' = :f"
        ), {"t": TENANT, "f": corpus.fingerprint}).scalar_one()
    if have == corpus.chunks // CHUNKS_PER_DOC and not rebuild:
        return False
    started = time.perf_counter()
    print(f"  building a {corpus.chunks:,}-chunk corpus (cached for the next runs) ...",
          flush=True)
    _load(engine, corpus)
    print(f"  corpus built in {time.perf_counter() - started:.0f}s", flush=True)
    return True


def _load(engine: Engine, corpus: Corpus) -> None:
    """Replace the tenant's documents by the corpus: binary COPY with the HNSW and GIN indexes
    dropped, then rebuilt from their own (the migration's) definitions."""
    from pgvector.psycopg import register_vector

    sentences = scifact_sentences()
    rng = np.random.default_rng(corpus.seed + 1)
    docs = corpus.chunks // CHUNKS_PER_DOC
    rare_docs = max(1, docs // 100)
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        register_vector(conn)
        cur = conn.cursor()
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("DELETE FROM documents WHERE tenant_id = %s", (TENANT,))
        index_defs = [row[0] for row in cur.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'chunks' AND indexname IN "
            "('ix_chunks_embedding_hnsw', 'ix_chunks_tsv')").fetchall()]
        cur.execute("DROP INDEX IF EXISTS ix_chunks_embedding_hnsw")
        cur.execute("DROP INDEX IF EXISTS ix_chunks_tsv")
        doc_ids = [uuid.uuid4() for _ in range(docs)]
        with cur.copy("COPY documents (id, tenant_id, collection, filename, kind, content_type, "
                      "sha256, size_bytes, metadata, status, page_count, chunk_count) "
                      "FROM STDIN") as copy:
            for n, doc_id in enumerate(doc_ids):
                collection = RARE_COLLECTION if n < rare_docs else "main"
                meta = json.dumps({"bench": corpus.fingerprint, "n": n})
                copy.write_row((doc_id, TENANT, collection, f"doc-{n:05d}.pdf", "pdf",
                                "application/pdf", hashlib.sha256(doc_id.bytes).hexdigest(),
                                1000, meta, "ready", 10, CHUNKS_PER_DOC))
        columns = ("document_id, tenant_id, collection, ordinal, text, section, section_path, "
                   "page_start, page_end, char_start, char_end, token_count, content_hash, "
                   "embedding")
        with cur.copy(f"COPY chunks ({columns}) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["uuid", "text", "text", "int4", "text", "text", "text[]", "int4",
                            "int4", "int4", "int4", "int4", "text", "vector"])
            for n, doc_id in enumerate(doc_ids):
                collection = RARE_COLLECTION if n < rare_docs else "main"
                topics = rng.integers(0, CENTROIDS, size=CHUNKS_PER_DOC)
                vectors = corpus.vectors(rng, topics)
                for i in range(CHUNKS_PER_DOC):
                    start = (n * CHUNKS_PER_DOC + i) * 3 % (len(sentences) - 4)
                    body = " ".join(sentences[start : start + 3])
                    section = f"Section {i // 10 + 1}"
                    copy.write_row((doc_id, TENANT, collection, i, body, section, [section],
                                    i // 10 + 1, i // 10 + 1, 0, len(body), len(body) // 4,
                                    hashlib.sha256(body.encode()).hexdigest(), vectors[i]))
        conn.commit()
        print("  rows loaded; building the HNSW and GIN indexes ...", flush=True)
        for definition in index_defs:
            cur.execute(definition)
        cur.execute("ANALYZE documents")
        cur.execute("ANALYZE chunks")
        conn.commit()
    finally:
        raw.close()
