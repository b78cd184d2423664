"""Receipt extraction on SROIE: scan → ingestion with OCR → `receipt` extraction, scored.

    .venv/bin/python -m bench.extract                          # local GGUF model (see below)
    .venv/bin/python -m bench.extract --limit 10 --max-attempts 2
    LECTERN_CONFIG=llm.toml .venv/bin/python -m bench.extract  # whatever LLM is configured

Data: `../shared/data/sroie-dev` (50 receipts: `img/NNN.jpg`, OCR ground truth `box/NNN.csv`,
fields `key/NNN.json`), never copied into the repository. Each scan is ingested through the
real job path (`submit_document` + `Worker.run_once`: sniff, Tesseract through an `OcrPool`,
chunking, embedding, storing) into the benchmark PostgreSQL, then extracted with
`pipelines.extract.extract_document` (retrieval-ranked pages, the router's `extract` task,
validation and re-ask), with `accept_invalid` so a never-valid answer still counts (as wrong).

Figures:
- per-field exact match after the SROIE normalisation (whitespace folded, case-insensitive);
  for `date` and `total` the ground truth, printed as on the receipt ("25/12/2018", "9.00"),
  is first normalised the way lectern normalises (ISO 8601, decimal string), since lectern
  returns normalised values by design; the raw OCR-independent ceiling is not measured;
- OCR character error rate of the page text (raw Tesseract) against the `box` transcripts
  joined line by line, whitespace folded;
- seconds per receipt (ingestion, extraction), attempts, and how often evidence was found for
  correct and for wrong values (evidence should flag invented values).

Without `LECTERN_CONFIG` the LLM is the local GGUF model at `--model` (default
`LECTERN_LOCAL_MODEL_PATH`, else /var/tmp/lectern-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf)
through llama-cpp-python (grammar-constrained JSON). Results: `bench/results/extract.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bench.common import (
    bench_database,
    format_table,
    load_embedder,
    shared_data_dir,
    write_results,
)
from bench.machine import load_line, machine_load
from ingest.ocr_pool import OcrPool
from ingest.pipeline import IngestContext
from ingest.types import Limits
from pipelines import ingestion
from pipelines.extract import extract_document, normalize_amount, normalize_date
from pipelines.ingestion import Job, Worker
from pipelines.llm import (
    Budget,
    Ledger,
    LLMConfig,
    LLMMetrics,
    Router,
    build_providers,
    load_config,
    parse_config,
)
from tests.support.cer import char_error_rate, fold_whitespace

TENANT = "bench-extract"
DATABASE = "lectern_bench_extract"
FIELDS = ("company", "date", "address", "total")
DEFAULT_MODEL = Path("/var/tmp/lectern-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")


def fold(value: Any) -> str:
    """The SROIE comparison form: whitespace folded, case-insensitive."""
    return " ".join(str(value or "").split()).casefold()


def truth_of(field: str, value: str) -> str:
    """The ground truth in lectern's normalised form (dates ISO, amounts decimal strings)."""
    try:
        if field == "date":
            return normalize_date(value)
        if field == "total":
            return normalize_amount(value)
    except ValueError:
        pass
    return fold(value)


def box_text(path: Path) -> str:
    """The transcript lines of a SROIE `box` file, in file order."""
    lines = []
    for row in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = row.split(",", 8)
        if len(parts) == 9:
            lines.append(parts[8])
    return "\n".join(lines)


def llm_config(args: argparse.Namespace) -> LLMConfig:
    """`LECTERN_CONFIG` when set, else the local GGUF model."""
    if os.environ.get("LECTERN_CONFIG"):
        return load_config(None, os.environ)
    model = Path(args.model or os.environ.get("LECTERN_LOCAL_MODEL_PATH") or DEFAULT_MODEL)
    options = {"n_ctx": args.n_ctx, "n_threads": args.threads}
    return parse_config({
        "providers": {"local": {"kind": "local", "model_path": str(model), "options": options,
                                "timeout_s": 600}},
        "models": [{"id": model.stem, "provider": "local", "tier": "mid",
                    "context_tokens": args.n_ctx, "max_output_tokens": 512}],
    }, os.environ)


def ingest(sessions: sessionmaker[Session], ctx: IngestContext, path: Path
           ) -> tuple[uuid.UUID, float]:
    """Submit one scan and run its job in this process; (document id, seconds)."""
    worker = Worker(sessions, ctx, lease_seconds=300.0, poll_interval=0.05)
    with sessions() as session:
        submission = ingestion.submit_document(
            session, tenant=TENANT, collection="sroie", filename=path.name,
            data=path.read_bytes(), metadata={}, limits=ctx.limits)
        document_id = submission.document.id
    started = time.perf_counter()
    while worker.run_once():
        pass
    return document_id, time.perf_counter() - started


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest and extract every receipt in turn on the benchmark database; the summary."""
    data = shared_data_dir() / "sroie-dev"
    names = sorted(p.stem for p in (data / "img").glob("*.jpg"))[: args.limit]
    config = llm_config(args)
    providers, skipped = build_providers(config, os.environ)
    model_names = [m.id for m in config.models if m.provider in providers]
    print(f"{len(names)} receipts; LLM models {model_names} (skipped: {skipped}); {load_line()}")
    embedder = load_embedder()
    rows: list[dict[str, Any]] = []
    with bench_database(DATABASE) as url, OcrPool(args.ocr_workers) as pool:
        from app.db.engine import make_engine, session_factory

        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions() as session:
            session.execute(delete(Job).where(Job.tenant_id == TENANT))
            for doc in ingestion.list_documents(session, tenant=TENANT, limit=1000).rows:
                ingestion.delete_document(session, tenant=TENANT, document_id=doc.id)
            session.commit()
        ledger = Ledger(engine)
        router = Router(config, providers, budget=Budget(engine, config.budgets, ledger),
                        ledger=ledger, metrics=LLMMetrics(CollectorRegistry()))
        ctx = IngestContext(embedder=embedder, limits=Limits(), ocr=pool)
        for name in names:
            document_id, ingest_s = ingest(sessions, ctx, data / "img" / f"{name}.jpg")
            key = json.loads((data / "key" / f"{name}.json").read_text(encoding="utf-8"))
            with sessions() as session:
                pages = ingestion.list_pages(session, tenant=TENANT, document_id=document_id).rows
                ocr = "\n".join(p.raw_text for p in pages)
                started = time.perf_counter()
                result = await extract_document(
                    router, session, embedder, tenant=TENANT, document_id=document_id,
                    schema="receipt", max_attempts=args.max_attempts, accept_invalid=True)
                extract_s = time.perf_counter() - started
            cer = char_error_rate(box_text(data / "box" / f"{name}.csv"), ocr,
                                  normalise=fold_whitespace)
            row: dict[str, Any] = {"receipt": name, "ingest_s": round(ingest_s, 2),
                                   "extract_s": round(extract_s, 2), "attempts": result.attempts,
                                   "valid": result.valid, "model": result.model,
                                   "cer": round(cer, 4), "fields": {}}
            for field in FIELDS:
                got = result.data.get(field)
                evidence = result.evidence.get(field)
                row["fields"][field] = {
                    "got": got, "truth": key.get(field),
                    "correct": got is not None and fold(got) == truth_of(field, key.get(field, "")),
                    "evidence": None if evidence is None else evidence.found}
            rows.append(row)
            marks = "".join("✓" if row["fields"][f]["correct"] else "·" for f in FIELDS)
            print(f"  {name}: {marks}  cer {row['cer']:.3f}  ingest {ingest_s:.1f}s  "
                  f"extract {extract_s:.1f}s  attempts {result.attempts}")
        for provider in providers.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()
        engine.dispose()
    return summarise(rows, model_names)


def summarise(rows: list[dict[str, Any]], models: list[str]) -> dict[str, Any]:
    """Accuracy per field, OCR CER, seconds, attempts and evidence rates over the receipts."""
    n = len(rows)
    accuracy = {f: sum(r["fields"][f]["correct"] for r in rows) / n for f in FIELDS}
    values = [(v["correct"], v["evidence"]) for r in rows for v in r["fields"].values()
              if v["got"] is not None]
    found_right = [e for c, e in values if c]
    found_wrong = [e for c, e in values if not c]
    return {
        "models": models, "receipts": n, "field_accuracy": accuracy,
        "mean_accuracy": statistics.mean(accuracy.values()),
        "all_fields_correct": sum(all(v["correct"] for v in r["fields"].values())
                                  for r in rows) / n,
        "ocr_cer_mean": statistics.mean(r["cer"] for r in rows),
        "ocr_cer_median": statistics.median(r["cer"] for r in rows),
        "seconds_per_receipt": {
            "ingest": statistics.mean(r["ingest_s"] for r in rows),
            "extract": statistics.mean(r["extract_s"] for r in rows),
            "total": statistics.mean(r["ingest_s"] + r["extract_s"] for r in rows)},
        "attempts_mean": statistics.mean(r["attempts"] for r in rows),
        "valid_rate": sum(r["valid"] for r in rows) / n,
        "evidence_found": {
            "correct_values": sum(bool(e) for e in found_right) / max(1, len(found_right)),
            "wrong_values": sum(bool(e) for e in found_wrong) / max(1, len(found_wrong))},
        "load_end": machine_load(), "rows": rows,
    }


def main() -> None:
    """Command-line entry point; prints the table and writes `bench/results/extract.json`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=50, help="first N receipts")
    parser.add_argument("--model", help="GGUF path (without LECTERN_CONFIG)")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--ocr-workers", type=int, default=2)
    args = parser.parse_args()
    summary = asyncio.run(run(args))
    table = [(f, summary["field_accuracy"][f]) for f in FIELDS]
    table.append(("mean", summary["mean_accuracy"]))
    print(format_table(("field", "exact match"), table))
    sec = summary["seconds_per_receipt"]
    print(f"models {summary['models']}; OCR CER mean {summary['ocr_cer_mean']:.4f} (median "
          f"{summary['ocr_cer_median']:.4f}); s/receipt ingest {sec['ingest']:.2f}, extract "
          f"{sec['extract']:.2f}; attempts {summary['attempts_mean']:.2f}; valid "
          f"{summary['valid_rate']:.2f}; evidence found for correct values "
          f"{summary['evidence_found']['correct_values']:.2f}, wrong values "
          f"{summary['evidence_found']['wrong_values']:.2f}")
    path = write_results("extract", {"config": vars(args), **summary})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
