"""A folder of small documents: how much worker threads overlapping their stages gain.

    .venv/bin/python -m bench.ingest_folder                     # 16 documents of 2 pages
    .venv/bin/python -m bench.ingest_folder --documents 24 --pages 1 --rounds 5

`--documents` distinct synthetic digital reports (`bench.documents`, a seed each) are
submitted at once and ingested by a `WorkerPool` of 1, then of 2 worker threads in this
process (what `serve` runs, `LECTERN_WORKER_CONCURRENCY`), woken by PostgreSQL's
notifications, on the shipped embedding runtime (`LECTERN_EMBEDDING_RUNTIME`, default onnx).
Timed from the first submission to the last job's end. The embedder serialises its calls, so
with two threads one document's reading, chunking and storing run while the other's chunks
embed. In the same round, interleaved, the raw torch embedder embeds the same chunks
(each document's in one call, as the pipeline batches them): the issue's yardstick. Ratios
per round, median and range. Results: `bench/results/ingest_folder.json`.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bench.common import bench_database, load_embedder, write_results
from bench.documents import synthetic_report
from bench.ingest_runs import TENANT, purge, raw_embed
from bench.machine import load_line, machine_load
from bench.timing import CpuMeter, ratio_summary, timed
from ingest.embedding import Embedder
from ingest.pipeline import IngestContext
from ingest.types import Chunk, Limits
from pipelines import ingestion
from pipelines.ingestion import WorkerPool, start_inprocess_workers

DATABASE = "lectern_bench_ingest_folder"


def ingest_folder(sessions: sessionmaker[Session], ctx: IngestContext,
                  documents: Sequence[bytes], threads: int, meter: CpuMeter
                  ) -> tuple[float, float]:
    """Submit every document, let `threads` workers ingest them all: wall and CPU seconds."""
    collection = f"folder-{uuid.uuid4().hex[:8]}"
    pool: WorkerPool = start_inprocess_workers(sessions, ctx, count=threads, name="bench",
                                               lease_seconds=300.0)
    try:
        with timed(meter) as took:
            ids = []
            for n, data in enumerate(documents):
                with sessions() as session:
                    sub = ingestion.submit_document(
                        session, tenant=TENANT, collection=collection, filename=f"{n}.pdf",
                        data=data, metadata={}, limits=ctx.limits)
                    assert sub.job is not None
                    ids.append(sub.job.id)
            for job_id in ids:
                job = ingestion.wait_for_job(sessions, tenant=TENANT, job_id=job_id,
                                             timeout_s=600, poll_s=0.01)
                if job.status != "succeeded":
                    raise RuntimeError(f"job {job_id}: {job.status} {job.error}")
    finally:
        pool.stop()
    purge(sessions)
    return took.wall, took.cpu


def folder_chunks(ctx: IngestContext, documents: Sequence[bytes]) -> list[list[Chunk]]:
    """Each document's chunks, as the pipeline makes them (for the raw embedder's side)."""
    from ingest.pipeline import run_ingest
    from ingest.sniff import sniff

    return [run_ingest(data, sniff(data, f"{n}.pdf", ctx.limits), ctx).chunks
            for n, data in enumerate(documents)]


def raw_folder(embedder: Embedder, chunks: Sequence[Sequence[Chunk]], batch: int,
               meter: CpuMeter) -> tuple[float, float]:
    """The raw embedder on every document's chunks in turn: wall and CPU seconds."""
    runs = [raw_embed(embedder, document, batch, meter) for document in chunks]
    return sum(r.wall for r in runs), sum(r.cpu for r in runs)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The interleaved rounds: the results payload."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"bench.ingest_folder: {args.documents} documents of {args.pages} pages, "
          f"{args.rounds} rounds; {load_line()}", flush=True)
    load_start = machine_load()
    documents = [synthetic_report(args.pages, seed=1000 + n)[0] for n in range(args.documents)]
    embedder = load_embedder()
    runtime = getattr(embedder, "runtime", "torch")
    raw_torch = load_embedder("torch")
    ctx = IngestContext(embedder=embedder, limits=Limits(), ocr=None)
    meter = CpuMeter()
    walls: dict[str, list[float]] = {"1 thread": [], "2 threads": [], "raw torch": []}
    cpus: dict[str, list[float]] = {name: [] for name in walls}
    with bench_database(DATABASE) as url:
        from app.db.engine import make_engine, session_factory

        engine = make_engine(url)
        sessions = session_factory(engine)
        purge(sessions)
        chunks = folder_chunks(ctx, documents)  # also warms the embedder up
        raw_torch.embed(["warm-up"])
        sides = {"1 thread": lambda: ingest_folder(sessions, ctx, documents, 1, meter),
                 "2 threads": lambda: ingest_folder(sessions, ctx, documents, 2, meter),
                 "raw torch": lambda: raw_folder(raw_torch, chunks, ctx.embed_batch, meter)}
        for n in range(args.rounds):
            order = list(sides) if n % 2 == 0 else list(reversed(sides))
            for name in order:
                wall, cpu = sides[name]()
                walls[name].append(wall)
                cpus[name].append(cpu)
            print(f"  round {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in walls.items())
                  + f"; load {os.getloadavg()[0]:.2f}", flush=True)
        engine.dispose()
    count = sum(len(c) for c in chunks)
    ratios = {
        "2 threads ÷ 1 thread (throughput)": ratio_summary(
            [a / b for a, b in zip(walls["1 thread"], walls["2 threads"], strict=True)]),
        "1 thread ÷ raw torch": ratio_summary(
            [r / p for p, r in zip(walls["1 thread"], walls["raw torch"], strict=True)]),
        "2 threads ÷ raw torch": ratio_summary(
            [r / p for p, r in zip(walls["2 threads"], walls["raw torch"], strict=True)]),
    }
    for name, figure in ratios.items():
        print(f"  {name}: {figure['median']}× (rounds {figure['min']}–{figure['max']})")
    print(f"{args.documents} documents, {count} chunks; runtime {runtime}; {load_line()}")
    return {"config": vars(args), "chunks": count, "load_start": load_start,
            "load_end": machine_load(),
            "runtime": runtime, "wall_s": walls, "cpu_s": cpus, "ratios": ratios}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; writes `bench/results/ingest_folder.json`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=16)
    parser.add_argument("--pages", type=int, default=2, help="pages per document")
    parser.add_argument("--rounds", type=int, default=3)
    results = run(parser.parse_args(argv))
    print(f"results: {write_results('ingest_folder', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
