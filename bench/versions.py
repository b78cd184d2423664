"""What reuse saves on a new version: a 20-page handbook whose one section changed.

    .venv/bin/python -m bench.versions              # 20 pages, section 7 changed, 3 rounds
    .venv/bin/python -m bench.versions --rounds 5

Three jobs per round, each run by one `Worker.run_once()` on the benchmark PostgreSQL (text
layer, chunking, all-MiniLM-L6-v2, storing), timed from claim to commit: v1 uploaded fresh,
v2 (one section rewritten) as v1's next version (`submit_version`: only the changed section's
chunks are embedded), and v2 uploaded fresh into another collection (every chunk embedded),
the baseline measured in the same run. Reported: chunks reused and embedded, the embedding
stage and the whole job, and the fresh/version ratios with the load average. Results:
`bench/results/versions.json`.

`handbook` also serves the e2e test of versions: one section per page, each a heading and
four paragraphs drawn from a seed of its own, so changing one section leaves the others'
text, and so their chunks, exactly as they were.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time
from collections.abc import Mapping
from typing import Any

from bench.common import bench_database, format_table, text_layer_worker, write_results
from bench.documents import make_samples
from bench.machine import load_line, machine_load

TENANT = "bench-versions"
DATABASE = "lectern_bench_versions"
SECTIONS = 20
CHANGED = 7

_WORDS = ("ledger", "invoice", "supplier", "warehouse", "forecast", "audit", "pallet",
          "carrier", "tariff", "rebate", "quarter", "budget", "payroll", "contract", "freight",
          "shelf", "customer", "return", "margin", "region", "schedule", "inspection",
          "training", "safety", "vehicle", "storage", "voucher", "account")


_TITLES = ("Receiving goods", "Checking deliveries", "Storing pallets", "Counting stock",
           "Picking orders", "Packing parcels", "Shipping abroad", "Handling returns",
           "Paying suppliers", "Billing customers", "Closing the month", "Planning staff",
           "Training new hires", "Fire safety", "Driving forklifts", "Cleaning the floor",
           "Reporting incidents", "Ordering supplies", "Auditing records", "Leaving the site")


def section_heading(number: int) -> str:
    """The heading of section `number` (1-based), as drawn and as chunks' section paths hold it
    (distinct words on every page: a line repeated page after page, numbers aside, would be
    dropped as a running header)."""
    return _TITLES[(number - 1) % len(_TITLES)]


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 14))).capitalize() + "."
        for _ in range(sentences))


def reference(number: int, revision: int = 0) -> str:
    """A word found only in section `number`'s `revision`, to search for."""
    return f"code{number:02d}x{revision}"


def section_text(number: int, revision: int = 0) -> list[str]:
    """Section `number`'s four paragraphs in its `revision` (0: the first), the first naming
    its `reference`."""
    rng = random.Random(number * 1000 + revision)
    paragraphs = [_paragraph(rng, 7) for _ in range(4)]
    paragraphs[0] = f"Its reference is {reference(number, revision)}. {paragraphs[0]}"
    return paragraphs


def handbook(revisions: Mapping[int, int] | None = None, sections: int = SECTIONS) -> bytes:
    """A digital PDF of `sections` pages, one section per page; `revisions` maps a section
    number to the revision of its text (the rest: revision 0). Deterministic."""
    ms = make_samples()
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=letter, invariant=1)
    for number in range(1, sections + 1):
        y = letter[1] - ms.MARGIN
        blocks = [("h1", section_heading(number))]
        blocks += [("p", text) for text in section_text(number, (revisions or {}).get(number, 0))]
        for style, content in blocks:
            font, size, before, height = ms.STYLES[style]
            y -= before
            canvas.setFont(font, size)
            for line in ms.wrap(content, font, size, ms.TEXT_WIDTH):
                y -= height
                canvas.drawString(ms.MARGIN, y, line)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _run(sessions: Any, worker: Any, submit: Any) -> dict[str, Any]:
    """Submit one upload, run its job to the end, and its figures."""
    from ingest.corpus import Document
    from pipelines import ingestion

    with sessions() as session:
        job = submit(session).job
        assert job is not None, "nothing was queued"
        job_id = job.id
    started = time.perf_counter()
    assert worker.run_once()
    seconds = time.perf_counter() - started
    with sessions() as session:
        done = session.get(ingestion.Job, job_id)
        assert done is not None and done.status == "succeeded", done and done.error
        document = session.get(Document, done.document_id)
        assert document is not None and document.processing_log is not None
        stages = document.processing_log["stage_seconds"]
        return {"document_id": document.id, "version": document.version,
                "chunks": document.chunk_count, "chunks_reused": done.chunks_reused,
                "chunks_embedded": done.chunks_embedded, "job_s": round(seconds, 3),
                "embedding_s": round(stages["embedding"], 3)}


def round_once(sessions: Any, worker: Any, v1: bytes, v2: bytes, n: int) -> dict[str, Any]:
    """v1 fresh, v2 as its next version, v2 fresh elsewhere: the three runs' figures."""
    from ingest.types import Limits
    from pipelines import ingestion

    def fresh(data: bytes, collection: str) -> Any:
        return lambda session: ingestion.submit_document(
            session, tenant=TENANT, collection=collection, filename="handbook.pdf", data=data,
            metadata={}, limits=Limits())

    first = _run(sessions, worker, fresh(v1, f"round-{n}"))
    version = _run(sessions, worker, lambda session: ingestion.submit_version(
        session, tenant=TENANT, document_id=first["document_id"], filename="handbook.pdf",
        data=v2, limits=Limits()))
    baseline = _run(sessions, worker, fresh(v2, f"round-{n}-fresh"))
    return {"v1_fresh": first, "v2_version": version, "v2_fresh": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from ingest.types import Limits
    from pipelines import ingestion

    v1, v2 = handbook(), handbook({CHANGED: 1})
    load_start = machine_load()
    with bench_database(DATABASE) as url:
        engine, sessions, worker = text_layer_worker(url, TENANT)
        _run(sessions, worker, lambda session: ingestion.submit_document(  # warm-up, not counted
            session, tenant=TENANT, collection="warm-up", filename="warm.pdf",
            data=handbook({1: 9}), metadata={}, limits=Limits()))
        rounds = [round_once(sessions, worker, v1, v2, n) for n in range(args.rounds)]
        engine.dispose()
    rows = [[name, r[name]["chunks"], r[name]["chunks_reused"], r[name]["chunks_embedded"],
             r[name]["embedding_s"], r[name]["job_s"]]
            for r in rounds for name in ("v1_fresh", "v2_version", "v2_fresh")]
    print(format_table(["run", "chunks", "reused", "embedded", "embedding s", "job s"], rows))

    def median(name: str, key: str) -> float:
        return float(statistics.median(r[name][key] for r in rounds))

    summary = {
        "chunks": rounds[-1]["v2_version"]["chunks"],
        "chunks_reused": rounds[-1]["v2_version"]["chunks_reused"],
        "chunks_embedded": rounds[-1]["v2_version"]["chunks_embedded"],
        "median_embedding_s": {"version": median("v2_version", "embedding_s"),
                               "fresh": median("v2_fresh", "embedding_s")},
        "median_job_s": {"version": median("v2_version", "job_s"),
                         "fresh": median("v2_fresh", "job_s")},
    }
    summary["embedding_ratio_fresh_over_version"] = round(
        summary["median_embedding_s"]["fresh"] / max(summary["median_embedding_s"]["version"],
                                                     1e-6), 1)
    summary["job_ratio_fresh_over_version"] = round(
        summary["median_job_s"]["fresh"] / summary["median_job_s"]["version"], 2)
    print(f"\nv2 as a version: {summary['chunks_reused']} of {summary['chunks']} chunks reused, "
          f"{summary['chunks_embedded']} embedded; embedding "
          f"{summary['embedding_ratio_fresh_over_version']}x faster, the whole job "
          f"{summary['job_ratio_fresh_over_version']}x faster than v2 fresh "
          f"(medians of {args.rounds}); {load_line()}")
    for r in rounds:
        for run in r.values():
            run["document_id"] = str(run["document_id"])
    path = write_results("versions", {
        "command": "python -m bench.versions" + (f" --rounds {args.rounds}"
                                                 if args.rounds != 3 else ""),
        "machine": [load_start, machine_load()], "sections": SECTIONS, "changed_section": CHANGED,
        "summary": summary, "rounds": rounds})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
