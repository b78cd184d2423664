"""FinanceBench dev through lectern: evidence-page recall of search, gold numbers in answers.

    .venv/bin/python -m bench.financebench            # ingest once (kept), then measure
    .venv/bin/python -m bench.financebench --modes hybrid text vector

The 24 SEC filings of `financebench-dev/pdfs` are ingested once into the benchmark PostgreSQL
(tenant `bench-financebench`, kept for later runs). Each of the 29 analyst questions becomes a
golden-set question whose expected sources are its gold evidence pages (0-based in the data,
1-based here), and is run through `pipelines.evaluation.run_evaluation` exactly as
`lectern eval` runs a set: search over the whole corpus with the calibrated threshold,
recall@5/@10, MRR, nDCG@10, and how often the question's filing is among the first 5 hits
at all (`filing_in_top5`: the wrong filing vs the wrong page of the right one), once per
mode (hybrid, text, vector). The extractive answerer (the offline default) then answers each
question; `gold_number_in_answer` is the share whose answer contains a number of the gold
answer (compared numerically: "$1,577 million", "1577.00" and "1,577" agree; years and single
digits do not count). Also measured:
recall@5 when the search is limited to the question's own filing (`document_ids`), the
closed-book setting most FinanceBench baselines report. Results: `bench/results/financebench.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.engine import make_engine, session_factory
from bench.common import bench_database, format_table, load_embedder, shared_data_dir, write_results
from bench.machine import load_line, machine_load
from ingest.corpus import Document
from ingest.embedding import Embedder
from ingest.ocr_pool import OcrPool
from ingest.pipeline import IngestContext
from ingest.types import Limits
from pipelines import evaluation, ingestion
from pipelines.answer import answer, collect
from pipelines.ingestion import Worker
from pipelines.llm import Router, parse_config
from pipelines.search import Question, retrieve
from retrieval.types import SearchMode

TENANT = "bench-financebench"
DATABASE = "lectern_bench_financebench"
MODES = ("hybrid", "text", "vector")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def questions(root: Path) -> list[dict[str, Any]]:
    """The dev questions as decoded JSON."""
    path = root / "financebench-dev" / "questions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def golden(rows: Sequence[dict[str, Any]]) -> list[evaluation.GoldenQuestion]:
    """Each question with its gold evidence pages as expected sources (1-based)."""
    return evaluation.parse_golden({"question": row["question"], "expected": [
        {"document": f"{row['doc_name']}.pdf", "pages": [ev["evidence_page_num"] + 1]}
        for ev in row["evidence"]]} for row in rows)


def ensure_filings(sessions: sessionmaker[Session], embedder: Embedder, root: Path) -> None:
    """Ingest every filing not yet ready for `TENANT` (one job at a time, OCR pool of 2)."""
    folder = root / "financebench-dev" / "pdfs"
    with sessions() as session:
        ready = set(session.scalars(select(Document.filename).where(
            Document.tenant_id == TENANT, Document.status == "ready")))
    missing = [p for p in sorted(folder.glob("*.pdf")) if p.name not in ready]
    if not missing:
        return
    with OcrPool(2) as pool:
        worker = Worker(sessions, IngestContext(embedder=embedder, ocr=pool))
        for number, path in enumerate(missing, 1):
            with sessions() as session:
                ingestion.submit_document(session, tenant=TENANT, collection="filings",
                                          filename=path.name, data=path.read_bytes(),
                                          metadata={}, limits=Limits())
            worker.run_once()
            print(f"ingested {number}/{len(missing)} {path.name}", flush=True)


def numbers(text: str) -> set[float]:
    """The figures written in `text`, thousands separators dropped: not years (1990-2035),
    not single digits, which any filing's answer would "contain"."""
    found: set[float] = set()
    for match in _NUMBER.findall(text):
        try:
            value = round(float(match.replace(",", "")), 2)
        except ValueError:
            continue
        if value >= 10 and not (value.is_integer() and 1990 <= value <= 2035):
            found.add(value)
    return found


async def measure(sessions: sessionmaker[Session], embedder: Embedder, router: Router,
                  rows: Sequence[dict[str, Any]], modes: Sequence[str]) -> dict[str, Any]:
    """Every figure of the module docstring."""
    services = evaluation.Services(embedder, router)
    gold = golden(rows)
    figures: dict[str, Any] = {}
    with sessions() as session:
        for mode in modes:
            figures[mode] = await _mode_metrics(session, gold, mode, services)
        ids = dict(session.execute(select(Document.filename, Document.id).where(
            Document.tenant_id == TENANT)).tuples().all())
        own = []
        for question, row in zip(gold, rows, strict=True):
            hits = await retrieve(session, tenant=TENANT, embedder=embedder, question=Question(
                question.question, top_k=5, document_ids=[ids[f"{row['doc_name']}.pdf"]]))
            own.append(evaluation.retrieval_scores(question, [
                evaluation.RankedHit(h.filename, h.page_start, h.page_end, h.score)
                for h in hits])["recall@5"])
        figures["own_filing_recall@5"] = round(sum(own) / len(own), 4)
        answered = []
        for row in rows:
            result = await collect(await answer(session, tenant=TENANT, question=Question(
                row["question"]), embedder=embedder, router=router))
            hit = bool(numbers(row["answer"]) & numbers(result["answer"]))
            answered.append({"question": row["question"], "gold": row["answer"],
                             "answer": result["answer"], "gold_number_in_answer": hit})
    figures["gold_number_in_answer"] = round(
        sum(a["gold_number_in_answer"] for a in answered) / len(answered), 4)
    figures["answers"] = answered
    return figures


async def _mode_metrics(session: Session, gold: Sequence[evaluation.GoldenQuestion], mode: str,
                        services: evaluation.Services) -> dict[str, float | None]:
    run = await evaluation.run_evaluation(
        session, tenant=TENANT, questions=gold, services=services,
        options=evaluation.EvalOptions(name=f"financebench-{mode}", answers=False,
                                       mode=cast(SearchMode, mode)))
    right_filing = [any(h["filename"] == r["expected"][0]["document"] for h in r["hits"][:5])
                    for r in run.results]
    return {**run.metrics, "filing_in_top5": round(sum(right_filing) / len(right_filing), 4)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = shared_data_dir()
    rows = questions(root)
    embedder = load_embedder()
    with bench_database(DATABASE) as url:
        engine = make_engine(url)
        sessions = session_factory(engine)
        ensure_filings(sessions, embedder, root)
        from app.container_llm import build_llm

        llm = build_llm(engine, {}, config=parse_config({"cache": {"enabled": False}}, {}))
        figures = asyncio.run(measure(sessions, embedder, llm.router, rows, args.modes))
        engine.dispose()
    columns = ("recall@5", "recall@10", "mrr", "ndcg@10", "insufficient_evidence",
               "filing_in_top5")
    table = [[mode, *(figures[mode][k] for k in columns)] for mode in args.modes]
    print(format_table(["mode", "recall@5", "recall@10", "mrr", "ndcg@10", "no hits",
                        "filing@5"], table))
    print(f"own filing only, hybrid recall@5: {figures['own_filing_recall@5']}")
    print(f"gold number in the extractive answer: {figures['gold_number_in_answer']}")
    print(load_line())
    path = write_results("financebench", {"questions": len(rows), "machine": machine_load(),
                                          **figures})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
