"""A 500-page PDF against a 10-page one: peak memory and per-page progress through the job path.

    .venv/bin/python -m bench.large_document                 # 10 and 500 pages
    .venv/bin/python -m bench.large_document --pages 10 200  # other sizes

Each size runs in a fresh child process, so its peak RSS (`ru_maxrss`) is its own: the
synthetic report of `bench.documents` is uploaded with `submit_document` into the benchmark
PostgreSQL and run by one `Worker.run_once()` (text layer, chunking, all-MiniLM-L6-v2,
storing). A thread samples the job's `pages_done`/`pages_total` every 0.2 s, so the report
shows whether progress moved page by page or jumped. Memory is bounded when the 500-page run's
peak stays near the 10-page run's (the model and the libraries are the floor), not 50× it.
Results: `bench/results/large_document.json`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from typing import Any

from bench.common import bench_database, format_table, text_layer_worker, write_results
from bench.machine import machine_load

TENANT = "bench-large"
DATABASE = "lectern_bench_large"


def _sample_progress(sessions: Any, job_id: Any, stop: threading.Event,
                     samples: list[tuple[float, int, int]]) -> None:
    from pipelines.ingestion import Job

    started = time.perf_counter()
    while not stop.wait(0.2):
        with sessions() as session:
            job = session.get(Job, job_id)
            if job is not None:
                samples.append((time.perf_counter() - started, job.pages_done or 0,
                                job.pages_total or 0))


def child(pages: int, url: str) -> dict[str, Any]:
    """Ingest one synthetic report of `pages` pages; its figures (run in a fresh process)."""
    from bench.documents import synthetic_report
    from ingest.corpus import Document
    from ingest.types import Limits
    from pipelines import ingestion

    pdf, _ = synthetic_report(pages)
    engine, sessions, worker = text_layer_worker(url, TENANT)
    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with sessions() as session:
        job = ingestion.submit_document(session, tenant=TENANT, collection="large",
                                        filename=f"report-{pages}.pdf", data=pdf, metadata={},
                                        limits=Limits()).job
    assert job is not None
    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_progress, args=(sessions, job.id, stop, samples))
    sampler.start()
    started = time.perf_counter()
    worker.run_once()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    with sessions() as session:
        done = session.get(ingestion.Job, job.id)
        assert done is not None
        document = session.get(Document, done.document_id)
        status, chunks = done.status, document.chunk_count if document else None
    engine.dispose()
    distinct = sorted({done_pages for _, done_pages, _ in samples})
    return {"pages": pages, "pdf_bytes": len(pdf), "status": status, "chunks": chunks,
            "seconds": round(seconds, 2),
            "rss_after_model_mb": round(rss_before_mb, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "progress_samples": len(samples), "distinct_pages_done_seen": len(distinct)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", nargs="+", type=int, default=[10, 500])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.url)))
        return
    rows: list[dict[str, Any]] = []
    load_start = machine_load()
    with bench_database(DATABASE) as url:
        for pages in args.pages:
            out = subprocess.run([sys.executable, "-m", "bench.large_document", "--child",
                                  str(pages), "--url", url], check=True, capture_output=True,
                                 text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(f"{pages} pages: {rows[-1]}")
    base = rows[0]
    for row in rows:
        row["peak_rss_ratio"] = round(row["peak_rss_mb"] / base["peak_rss_mb"], 2)
        row["growth_mb"] = round(row["peak_rss_mb"] - row["rss_after_model_mb"], 1)
    print()
    print(format_table(["pages", "status", "chunks", "s", "peak RSS MB", "× first", "growth MB",
                        "progress values seen"],
                       [[r["pages"], r["status"], r["chunks"], r["seconds"], r["peak_rss_mb"],
                         r["peak_rss_ratio"], r["growth_mb"], r["distinct_pages_done_seen"]]
                        for r in rows]))
    path = write_results("large_document", {"machine": [load_start, machine_load()],
                                            "runs": rows})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
