"""The extractive answerer on the samples' question set, through the real ingest and search.

    .venv/bin/python -m bench.answers                  # lexical (the default provider)
    .venv/bin/python -m bench.answers --variants lexical embedder
    .venv/bin/python -m bench.answers --reingest       # ingest the samples again

The five sample documents (`samples/`: the report as a PDF with a text layer and as a scan,
page 2 scanned sideways, the receipt, the note) are uploaded into the benchmark PostgreSQL and
run through the real job (OCR included) once; the documents are kept for later runs. Every
question of `tests.support.extractive_qa.QUESTIONS` is then asked through
`pipelines.answer.answer` (hybrid search, default threshold, top 8) with a router over the
offline default configuration, the answer cache off. Variants: `lexical` is the extractive
provider as the default configuration builds it (no embedder); `embedder` is the same provider
given the sentence embedder through its `embedder` seam (all-MiniLM-L6-v2, as search uses).

Per question it records the answer, its grade (first sentence holds the answer, padding
sentences, repeated sentences, "the sources do not say") and the time; the figures are the
number of answerable questions answered in the first sentence with no padding, wrong answers
(neither the answer first nor "not in the sources"), paraphrased questions answered, padding
and repeated sentences in all, unanswerable questions refused, answerable ones refused, and
the mean time per answer (search included). Results: `bench/results/answers.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bench.common import bench_database, format_table, load_embedder, write_results
from ingest.corpus import Document
from ingest.embedding import Embedder
from ingest.ocr_pool import OcrPool
from ingest.pipeline import IngestContext
from ingest.types import Limits
from pipelines import ingestion
from pipelines.answer import answer, collect
from pipelines.ingestion import Worker
from pipelines.llm import ChatProvider, Router, parse_config
from pipelines.search import Question
from tests.support.extractive_qa import (
    QUESTIONS,
    SAMPLES,
    extractive_with_embedder,
    grade,
    sample_texts,
)

TENANT = "bench-answers"
DATABASE = "lectern_bench_answers"
VARIANTS = ("lexical", "embedder")


def ensure_samples(sessions: sessionmaker[Session], embedder: Embedder, *, again: bool
                   ) -> list[str]:
    """The sample documents ingested for `TENANT` (again when asked, or when one is
    missing or not ready); returns their file names."""
    names = sorted(sample_texts())
    with sessions() as session:
        ready = set(session.scalars(select(Document.filename).where(
            Document.tenant_id == TENANT, Document.status == "ready")))
        if not again and ready >= set(names):
            return names
        session.execute(delete(Document).where(Document.tenant_id == TENANT))
        session.commit()
    with OcrPool(2) as pool:
        worker = Worker(sessions, IngestContext(embedder=embedder, ocr=pool))
        for name in names:
            with sessions() as session:
                ingestion.submit_document(
                    session, tenant=TENANT, collection="samples", filename=name,
                    data=(SAMPLES / name).read_bytes(), metadata={}, limits=Limits())
            worker.run_once()
            print(f"ingested {name}", flush=True)
    return names


def providers_for(variant: str, embedder: Embedder) -> Mapping[str, ChatProvider] | None:
    """The providers of a variant: None for the default build (lexical)."""
    if variant == "lexical":
        return None
    return {"extractive": extractive_with_embedder(embedder)}


async def ask_all(sessions: sessionmaker[Session], router: Router, embedder: Embedder
                  ) -> list[dict[str, Any]]:
    """Every question of the set, answered and graded."""
    rows: list[dict[str, Any]] = []
    for qa in QUESTIONS:
        started = time.perf_counter()
        with sessions() as session:
            stream = await answer(session, tenant=TENANT, question=Question(qa.question),
                                  embedder=embedder, router=router)
            result = await collect(stream)
        seconds = time.perf_counter() - started
        g = grade(qa, result["answer"])
        rows.append({"question": qa.question, "expected": qa.answer,
                     "paraphrase": qa.paraphrase, "answer": result["answer"],
                     "ok": g.ok, "first_ok": g.first_ok, "not_found": g.not_found,
                     "sentences": g.sentences, "padding": g.padding,
                     "duplicates": g.duplicates, "ms": round(seconds * 1000, 1),
                     "sources": [(s["n"], s["filename"], s["page_start"])
                                 for s in result["sources"]]})
    return rows


def figures(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The summary figures of one variant's rows."""
    answerable = [r for r in rows if r["expected"] is not None and not r["paraphrase"]]
    paraphrased = [r for r in rows if r["paraphrase"]]
    unanswerable = [r for r in rows if r["expected"] is None]
    return {
        "answerable": len(answerable),
        "answered_first_no_padding": sum(r["ok"] for r in answerable),
        "answer_in_first_sentence": sum(r["first_ok"] for r in answerable),
        "wrong_answers": sum(not r["first_ok"] and not r["not_found"]
                             for r in answerable + paraphrased),
        "paraphrased": len(paraphrased),
        "paraphrased_answered": sum(r["first_ok"] for r in paraphrased),
        "padding_sentences": sum(r["padding"] for r in rows),
        "repeated_sentences": sum(r["duplicates"] for r in rows),
        "mean_sentences": round(sum(r["sentences"] for r in answerable) / len(answerable), 2),
        "unanswerable": len(unanswerable),
        "unanswerable_refused": sum(r["not_found"] for r in unanswerable),
        "answerable_refused": sum(r["not_found"] for r in answerable),
        "mean_ms": round(sum(r["ms"] for r in rows) / len(rows), 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run the asked variants; print each answer's grade and the figures, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=["lexical"])
    parser.add_argument("--reingest", action="store_true")
    args = parser.parse_args(argv)
    embedder = load_embedder()
    payload: dict[str, Any] = {"variants": {}}
    with bench_database(DATABASE) as url:
        from app.container_llm import build_llm
        from app.db.engine import make_engine, session_factory

        engine = make_engine(url)
        sessions = session_factory(engine)
        payload["documents"] = ensure_samples(sessions, embedder, again=args.reingest)
        config = parse_config({"cache": {"enabled": False}}, {})
        for variant in args.variants:
            llm = build_llm(engine, {}, config=config,
                            providers=providers_for(variant, embedder))
            rows = asyncio.run(ask_all(sessions, llm.router, embedder))
            print(f"\n== {variant}")
            for r in rows:
                mark = "ok " if r["ok"] else "BAD"
                print(f"{mark} {r['question']}\n    {r['answer'][:300]}")
            summary = figures(rows)
            print(format_table(["figure", "value"], sorted(summary.items())))
            payload["variants"][variant] = {"figures": summary, "answers": rows}
        engine.dispose()
    print(f"results: {write_results('answers', payload)}")


if __name__ == "__main__":
    main()
