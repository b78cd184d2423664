"""Retrieval quality on BEIR SciFact (test split): nDCG@10 and recall@100 per search mode.

    .venv/bin/python -m bench.retrieval               # ingest once (cached in the DB), evaluate
    .venv/bin/python -m bench.retrieval --calibrate   # also measure the min_score calibration

Each mode is evaluated twice: without a threshold (`min_score=-1`: ranking quality alone) and
at the calibrated default (what `/v1/search` and `/v1/ask` apply). The off-topic part asks
questions of a corpus that cannot answer them (SciFact's test claims against the bundled
samples, everyday questions against both) and counts how many still get a hit at the default:
the false-answer rate the answer's insufficient-evidence path depends on.

The 5,183 abstracts are read from `$LECTERN_SHARED_DATA/beir-scifact` (never copied), written
as documents whose Markdown is `# <title>` + abstract, cut by the real chunker
(`ingest.chunking.chunk_pages`, so the title is each chunk's section heading) and embedded with
the real all-MiniLM-L6-v2. Chunks are stored through `ingest.store` exactly as the ingestion
pipeline stores them and searched through `retrieval.search`; chunk hits map back to BEIR
document ids by max-score aggregation (a document ranks where its best chunk ranks). Metrics
follow BEIR/pytrec_eval (binary qrels, nDCG with log2 discount). Published for comparison:
BM25 0.665, all-MiniLM-L6-v2 0.645 nDCG@10. Results go to `bench/results/retrieval.json`.

The corpus is cached in the benchmark database keyed by a fingerprint of the corpus file, the
model and the chunker settings; `--rebuild` forces a fresh ingest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.common import (
    Qrels,
    Stopwatch,
    bench_database,
    format_table,
    load_beir,
    load_embedder,
    measure_throughput,
    ndcg_at,
    recall_at,
    shared_data_dir,
)
from bench.common import write_results as write_json
from bench.retrieval_calibration import calibrate, calibrate_samples, calibrate_text, off_topic
from ingest.chunking import chunk_pages
from ingest.corpus import Document
from ingest.embedding import Embedder
from ingest.store import insert_document, write_corpus
from ingest.types import Chunk, CleanPage, Sniffed
from retrieval.search import search

TENANT = "bench-scifact"
COLLECTION = "beir-scifact"
DATABASE = "lectern_bench_retrieval"
MODES = ("vector", "text", "hybrid")
CHUNK_HITS = 300  # chunks read per query: enough distinct documents for recall@100


def page_for(doc: dict[str, str]) -> CleanPage:
    """A SciFact abstract as one cleaned Markdown page: the title is its section heading."""
    body = f"# {doc['title']}\n\n{doc['text']}" if doc["title"] else doc["text"]
    return CleanPage(page_no=1, method="text", raw_text=body, text=body, cleanup="skipped")


def ingest(
    engine: Engine,
    embedder: Embedder,
    corpus: dict[str, dict[str, str]],
    fingerprint: str,
    clock: Stopwatch,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Chunk, embed and store the corpus unless the database already holds this fingerprint."""
    with Session(engine) as session:
        cached = session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.tenant_id == TENANT, Document.status == "ready")
            .where(Document.metadata_.contains({"fingerprint": fingerprint}))
        )
    if cached == len(corpus):
        return {"cached": True, "documents": len(corpus)}
    with clock.lap("chunk"):
        pages = {doc_id: page_for(doc) for doc_id, doc in corpus.items()}
        chunks: dict[str, list[Chunk]] = {
            doc_id: chunk_pages(
                [page], token_counter=embedder.count_tokens, window=embedder.max_tokens
            )
            for doc_id, page in pages.items()
        }
    texts = [c.embed_text for doc_chunks in chunks.values() for c in doc_chunks]
    log(f"chunked into {len(texts)} chunks in {clock.laps['chunk']:.0f}s; embedding them ...")
    with clock.lap("embed"):
        vectors = embedder.embed(texts)
    with clock.lap("store"), Session(engine) as session:
        session.execute(delete(Document).where(Document.tenant_id == TENANT))
        position = 0
        for doc_id, page in pages.items():
            data = page.text.encode()
            document = insert_document(
                session,
                tenant=TENANT,
                collection=COLLECTION,
                filename=f"scifact-{doc_id}.md",
                sniffed=Sniffed(kind="markdown", mime="text/markdown"),
                data=data,
                sha256=hashlib.sha256(data).hexdigest(),
                metadata={"beir_id": doc_id, "fingerprint": fingerprint},
            )
            count = len(chunks[doc_id])
            write_corpus(
                session,
                document=document,
                pages=[page],
                chunks=chunks[doc_id],
                embeddings=vectors[position : position + count],
            )
            position += count
        session.commit()
    tokens = sum(c.token_count for doc_chunks in chunks.values() for c in doc_chunks)
    return {
        "cached": False,
        "documents": len(corpus),
        "chunks": len(texts),
        "chunk_seconds": round(clock.laps["chunk"], 2),
        "store_seconds": round(clock.laps["store"], 2),
        "content_tokens": tokens,
        "embed_seconds": round(clock.laps["embed"], 2),
        "embed_chunks_per_second": round(len(texts) / clock.laps["embed"], 1),
        "embed_tokens_per_second": round(tokens / clock.laps["embed"], 1),
    }


def doc_ranking(session: Session, **kwargs: Any) -> tuple[list[str], list[float]]:
    """BEIR doc ids best first (each at its best chunk's position) and their best cosine."""
    ranked: dict[str, float] = {}
    for hit in search(session, tenant=TENANT, **kwargs):
        beir_id = str(hit.document_metadata["beir_id"])
        if beir_id not in ranked:
            ranked[beir_id] = hit.score
    return list(ranked), list(ranked.values())


def evaluate(
    engine: Engine,
    queries: dict[str, str],
    vectors: dict[str, list[float]],
    qrels: Qrels,
    mode: str,
    min_score: float | None,
    text_scan_rows: int | None = None,
) -> dict[str, Any]:
    """Mean nDCG@10 / recall@100 and search latency for one mode over all queries
    (`min_score` None: the search's calibrated default)."""
    ndcg, recall, latency = [], [], []
    threshold = {} if min_score is None else {"min_score": min_score}
    with Session(engine) as session:
        for qid, text in queries.items():
            start = time.perf_counter()
            ranked, _ = doc_ranking(
                session,
                query_text=text,
                query_vector=vectors[qid],
                mode=mode,
                top_k=CHUNK_HITS,
                candidates=CHUNK_HITS,
                text_scan_rows=text_scan_rows,
                **threshold,
            )
            latency.append((time.perf_counter() - start) * 1000)
            session.rollback()
            ndcg.append(ndcg_at(ranked, qrels[qid], 10))
            recall.append(recall_at(ranked, qrels[qid], 100))
    latency.sort()
    return {
        "mode": mode,
        "min_score": "default" if min_score is None else min_score,
        "text_scan_rows": (text_scan_rows or "default") if mode != "vector" else None,
        "ndcg@10": round(statistics.fmean(ndcg), 4),
        "recall@100": round(statistics.fmean(recall), 4),
        "latency_ms_p50": round(latency[len(latency) // 2], 1),
        "latency_ms_p95": round(latency[int(len(latency) * 0.95)], 1),
        "queries": len(queries),
    }


def fingerprint_for(root: Path, embedder: Embedder) -> str:
    """Identifies the cached corpus: the corpus file, the model and the chunker defaults."""
    digest = hashlib.sha256((root / "corpus.jsonl").read_bytes()).hexdigest()
    model = Path(str(getattr(embedder, "model_name", "model"))).name
    return hashlib.sha256(f"{digest}|{model}|chunk_pages-defaults|v1".encode()).hexdigest()[:16]


def run(url: str, args: argparse.Namespace, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Ingest (or reuse) the corpus in `url`, evaluate every mode, return the result payload."""
    root = shared_data_dir() / "beir-scifact"
    corpus, queries, qrels = load_beir(root, "test")
    if args.limit:
        queries = dict(list(queries.items())[: args.limit])
    clock = Stopwatch()
    with clock.lap("load model"):
        embedder = load_embedder()
    engine = create_engine(url)
    log(f"corpus: {len(corpus)} documents; test queries: {len(queries)}")
    fingerprint = fingerprint_for(root, embedder)
    ingest_stats = ingest(engine, embedder, corpus, fingerprint, clock, log)
    log(f"ingest: {ingest_stats}")
    sample = [page_for(doc).text for doc in list(corpus.values())[:256]]
    throughput = measure_throughput(embedder, sample)
    log(
        f"raw embed throughput (256 abstracts, title + text, truncated at 256 tokens): {throughput}"
    )
    with clock.lap("embed queries"):
        qvectors = dict(zip(queries, embedder.embed(list(queries.values())), strict=True))
    results = []
    for mode in args.modes:
        for rows in args.text_scan_rows if mode != "vector" else [None]:
            with clock.lap(f"search {mode} {rows}"):
                results.append(evaluate(engine, queries, qvectors, qrels, mode, -1.0, rows))
            log(f"{mode}: {results[-1]}")
    for mode in args.modes:
        with clock.lap(f"search {mode} default threshold"):
            results.append(evaluate(engine, queries, qvectors, qrels, mode, None))
        log(f"{mode} at the default threshold: {results[-1]}")
    with clock.lap("off-topic"):
        off = off_topic(engine, embedder, TENANT, queries, qvectors, args.modes)
    log(f"off-topic (share of questions with any hit at the default threshold): {off}")
    payload: dict[str, Any] = {
        "dataset": "BEIR SciFact test",
        "published_ndcg@10": {"bm25": 0.665, "all-MiniLM-L6-v2": 0.645},
        "ingest": ingest_stats,
        "embed_throughput": throughput,
        "results": results,
        "off_topic": off,
    }
    if args.calibrate:
        payload["calibration"] = calibrate(engine, embedder, root, TENANT)
        payload["calibration"]["samples"] = calibrate_samples(embedder)
        payload["calibration"]["text"] = calibrate_text(engine, embedder, root, TENANT)
        log(f"calibration: {json.dumps(payload['calibration'], indent=2)}")
    payload["seconds"] = {k: round(v, 1) for k, v in clock.laps.items()}
    engine.dispose()
    rows = [
        (
            r["mode"],
            r["text_scan_rows"] or "-",
            r["min_score"],
            r["ndcg@10"],
            r["recall@100"],
            r["latency_ms_p50"],
            r["latency_ms_p95"],
        )
        for r in results
    ]
    header = ("mode", "text scan rows", "min_score", "nDCG@10", "recall@100", "p50 ms", "p95 ms")
    log(format_table(header, rows))
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; writes `bench/results/retrieval.json`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--calibrate", action="store_true", help="measure the min_score calibration"
    )
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N queries")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument(
        "--text-scan-rows", nargs="+", type=int, default=[None],
        help="full-text match budgets to evaluate text and hybrid at (default: retrieval's)",
    )
    parser.add_argument("--database-url", help="use this database instead of the embedded one")
    args = parser.parse_args(argv)
    if args.database_url:
        payload = run(args.database_url, args)
    else:
        with bench_database(DATABASE) as url:
            payload = run(url, args)
    print(f"wrote {write_json('retrieval', payload)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
