"""The `min_score` calibration of `bench.retrieval --calibrate`: how similar relevant and
off-topic question-chunk pairs are, on SciFact's train split and on the bundled samples, so
the default threshold (`retrieval.threshold.DEFAULT_MIN_SCORE`) can be checked against both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.common import REPO_ROOT, load_beir
from ingest.chunking import chunk_pages
from ingest.corpus import ChunkRow, Document
from ingest.embedding import Embedder
from ingest.types import CleanPage
from retrieval.threshold import DEFAULT_MIN_SCORE

SAMPLE_FILES = ("digital-report.txt", "note.md", "receipt.txt")
# fmt: off
SAMPLE_QUESTIONS = (  # each answered by the bundled samples
    "What was revenue in 2024?", "How much did online revenue reach?",
    "What was the gross margin?", "How many active loyalty members are there?",
    "Where is the second distribution centre?", "What are the main risks?",
    "How much capital spending is planned for 2025?", "What was net profit after tax?",
    "When is the weekly sync?", "Who drafts the kiosk pilot plan?",
    "What did the receipt total come to?", "How many stores does Northwind have?",
    "What revenue growth does the board expect?", "How much cash does the company have?",
    "What were staff costs?",
)
OFF_TOPIC = (  # about neither biomedicine (SciFact) nor the bundled samples
    "Who won the football world cup final?", "What is a good recipe for sourdough bread?",
    "How do I reset my router password?", "What is the capital of Australia?",
    "How do I configure nginx as a reverse proxy?", "Explain the offside rule in football.",
    "Can you recommend a good science fiction novel?", "How do I change a flat tyre on a bicycle?",
    "What time does the last train to Manchester leave?", "What causes the northern lights?",
    "How do I export a spreadsheet to PDF?", "How do I bake a chocolate cake?",
    "How should I write a cover letter for a job application?", "Who painted the Mona Lisa?",
    "What is the best way to learn to play the guitar?",
)
# fmt: on


def calibrate(engine: Engine, embedder: Embedder, root: Path, tenant: str) -> dict[str, Any]:
    """Cosine similarities of relevant vs. off-topic pairs, on the *train* split (not test).

    For each train query and each of its relevant documents, the exact cosine of the
    document's best chunk; for each off-topic question, its best cosine over the whole corpus
    (the SciFact documents `bench.retrieval` stored for `tenant`).
    """
    import numpy as np

    _, queries, qrels = load_beir(root, "train")
    with Session(engine) as session:
        rows = session.execute(
            select(Document.metadata_["beir_id"].astext, ChunkRow.embedding)
            .join(ChunkRow, ChunkRow.document_id == Document.id)
            .where(Document.tenant_id == tenant)
        ).all()
    ids = np.array([r[0] for r in rows])
    matrix = np.array([np.asarray(r[1], dtype=np.float32) for r in rows])
    qids = list(queries)
    q = np.array(embedder.embed([queries[i] for i in qids]), dtype=np.float32)
    sims = q @ matrix.T
    relevant: list[float] = []
    best_irrelevant: list[float] = []
    for row, qid in enumerate(qids):
        rel = set(qrels[qid])
        mask = np.isin(ids, list(rel))
        for doc in rel:
            doc_mask = ids == doc
            if doc_mask.any():
                relevant.append(float(sims[row][doc_mask].max()))
        best_irrelevant.append(float(sims[row][~mask].max()))
    off = np.array(embedder.embed(list(OFF_TOPIC)), dtype=np.float32) @ matrix.T
    off_best = off.max(axis=1)

    def pct(values: Sequence[float], p: float) -> float:
        return round(float(np.percentile(values, p)), 4)

    return {
        "split": "train",
        "queries": len(qids),
        "relevant_pairs": len(relevant),
        "relevant_best_chunk_cosine": {f"p{p}": pct(relevant, p) for p in (1, 2, 5, 10, 25, 50)},
        "best_nonrelevant_cosine_per_query": {
            f"p{p}": pct(best_irrelevant, p) for p in (5, 50, 95)
        },
        "off_topic_best_cosine": {
            "max": round(float(off_best.max()), 4),
            "p50": pct(list(off_best), 50),
            "questions": len(OFF_TOPIC),
        },
        "share_relevant_below": {
            f"{t:.2f}": round(float(np.mean(np.array(relevant) < t)), 4)
            for t in (0.15, 0.2, 0.25, 0.3, 0.35)
        },
        "share_off_topic_top1_at_or_above": {
            f"{t:.2f}": round(float(np.mean(off_best >= t)), 4)
            for t in (0.15, 0.2, 0.25, 0.3, 0.35)
        },
        "default_min_score": DEFAULT_MIN_SCORE,
    }


def calibrate_samples(embedder: Embedder) -> dict[str, Any]:
    """Best cosine over the bundled samples' chunks for answerable vs. unrelated questions."""
    import numpy as np

    texts = []
    for name in SAMPLE_FILES:
        body = (REPO_ROOT / "samples" / name).read_text()
        page = CleanPage(page_no=1, method="text", raw_text=body, text=body, cleanup="skipped")
        chunks = chunk_pages(
            [page], token_counter=embedder.count_tokens, window=embedder.max_tokens
        )
        texts += [c.embed_text for c in chunks]
    matrix = np.array(embedder.embed(texts), dtype=np.float32)

    def best(questions: Sequence[str]) -> list[float]:
        vectors = np.array(embedder.embed(list(questions)), dtype=np.float32)
        return [round(float(x), 4) for x in sorted((vectors @ matrix.T).max(axis=1))]

    answerable, unrelated = best(SAMPLE_QUESTIONS), best(OFF_TOPIC)
    return {
        "chunks": len(texts),
        "answerable_best_cosine_sorted": answerable,
        "unrelated_best_cosine_sorted": unrelated,
        "answerable_kept_at_default": sum(x >= DEFAULT_MIN_SCORE for x in answerable),
        "unrelated_rejected_at_default": sum(x < DEFAULT_MIN_SCORE for x in unrelated),
    }
