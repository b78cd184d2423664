"""The `min_score` calibration of `bench.retrieval --calibrate`: how similar relevant and
off-topic question-chunk pairs are, on SciFact's train split and on the bundled samples, so
the default threshold (`retrieval.threshold.DEFAULT_MIN_SCORE`) can be checked against both;
and the off-topic false-answer rate `bench.retrieval` reports on every run (`off_topic`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.common import REPO_ROOT, load_beir
from ingest.chunking import chunk_pages
from ingest.corpus import ChunkRow, Document
from ingest.embedding import Embedder
from ingest.store import insert_document, write_corpus
from ingest.types import Chunk, CleanPage, Sniffed
from retrieval.search import search
from retrieval.threshold import DEFAULT_MIN_SCORE, MIN_TEXT_COVERAGE
from retrieval.types import SearchMode

SAMPLES_TENANT = "bench-samples"

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


def calibrate_text(engine: Engine, embedder: Embedder, root: Path, tenant: str) -> dict[str, Any]:
    """Text coverage against cosine, read through hybrid search itself (no threshold, 300
    deep: the vector list holds the best cosines, the text list the coverages), per cut of
    coverage: on the *train* split, the share of relevant pairs (query, relevant document)
    whose best chunk reaches it, overall and among the pairs the cosine threshold loses; for
    the questions a corpus cannot answer (SciFact's test claims against the samples, the
    everyday questions against SciFact and the samples), the share that text evidence alone
    would hand a hit (best cosine under the threshold, coverage at or above the cut)."""
    import numpy as np

    store_samples(engine, embedder)
    _, train, qrels = load_beir(root, "train")
    _, test, _ = load_beir(root, "test")

    def best(corpus: str, questions: Sequence[str]) -> list[dict[str, tuple[float, float]]]:
        """Per question: document → (best coverage, best cosine) of its chunks found."""
        found = []
        with Session(engine) as session:
            for text, vector in zip(questions, embedder.embed(list(questions)), strict=True):
                per_doc: dict[str, tuple[float, float]] = {}
                for hit in search(session, tenant=corpus, query_text=text, query_vector=vector,
                                  top_k=600, candidates=300, min_score=-1.0):
                    doc = str(hit.document_metadata.get("beir_id", hit.document_id))
                    coverage, cosine = per_doc.get(doc, (0.0, -1.0))
                    per_doc[doc] = (max(coverage, hit.text_coverage or 0.0),
                                    max(cosine, hit.vector_score))
                session.rollback()
                found.append(per_doc)
        return found

    pairs = np.array([
        per_doc.get(doc, (0.0, -1.0))
        for qid, per_doc in zip(train, best(tenant, list(train.values())), strict=True)
        for doc in qrels[qid]
    ])
    lost = pairs[pairs[:, 1] < DEFAULT_MIN_SCORE]
    cuts = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    off: dict[str, Any] = {}
    for name, corpus, questions in (
        ("scifact_test_claims_vs_samples", SAMPLES_TENANT, list(test.values())),
        ("everyday_vs_scifact", tenant, list(OFF_TOPIC)),
        ("everyday_vs_samples", SAMPLES_TENANT, list(OFF_TOPIC)),
    ):
        tops = np.array([
            (max((c for c, _ in d.values()), default=0.0), max((v for _, v in d.values()),
                                                                default=-1.0))
            for d in best(corpus, questions)
        ])
        under = tops[:, 1] < DEFAULT_MIN_SCORE
        off[name] = {
            "questions": len(tops),
            "answered_by_cosine": round(float(np.mean(~under)), 4),
            "best_coverage_under_the_cosine_threshold": round(
                float(tops[under, 0].max(initial=0.0)), 4),
            "added_by_text_at": {f"{t:.1f}": round(float(np.mean(under & (tops[:, 0] >= t))), 4)
                                 for t in cuts},
        }
    return {
        "split": "train",
        "relevant_pairs": len(pairs),
        "relevant_found_by_full_text": round(float(np.mean(pairs[:, 0] > 0)), 4),
        "relevant_coverage": {f"p{p}": round(float(np.percentile(pairs[:, 0], p)), 4)
                              for p in (10, 25, 50, 75, 90)},
        "share_relevant_at_or_above": {
            f"{t:.1f}": round(float(np.mean(pairs[:, 0] >= t)), 4) for t in cuts
        },
        "relevant_under_the_cosine_threshold": len(lost),
        "of_which_rescued_at": {f"{t:.1f}": int(np.sum(lost[:, 0] >= t)) for t in cuts},
        "unanswerable": off,
        "min_text_coverage": MIN_TEXT_COVERAGE,
    }


def sample_pages(embedder: Embedder) -> dict[str, tuple[CleanPage, list[Chunk]]]:
    """The bundled samples' texts as one page each, cut by the real chunker: name → both."""
    pages = {}
    for name in SAMPLE_FILES:
        body = (REPO_ROOT / "samples" / name).read_text()
        page = CleanPage(page_no=1, method="text", raw_text=body, text=body, cleanup="skipped")
        chunks = chunk_pages(
            [page], token_counter=embedder.count_tokens, window=embedder.max_tokens
        )
        pages[name] = (page, chunks)
    return pages


def calibrate_samples(embedder: Embedder) -> dict[str, Any]:
    """Best cosine over the bundled samples' chunks for answerable vs. unrelated questions."""
    import numpy as np

    texts = [c.embed_text for _, chunks in sample_pages(embedder).values() for c in chunks]
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


def store_samples(engine: Engine, embedder: Embedder) -> int:
    """The bundled samples as the documents of tenant `SAMPLES_TENANT`, written as ingestion
    writes them (rewritten every run: a few chunks). Returns the number of chunks."""
    import hashlib

    count = 0
    with Session(engine) as session:
        session.execute(delete(Document).where(Document.tenant_id == SAMPLES_TENANT))
        for name, (page, chunks) in sample_pages(embedder).items():
            data = page.text.encode()
            document = insert_document(
                session, tenant=SAMPLES_TENANT, collection="samples", filename=name,
                sniffed=Sniffed(kind="text", mime="text/plain"), data=data,
                sha256=hashlib.sha256(data).hexdigest(), metadata={},
            )
            vectors = embedder.embed([c.embed_text for c in chunks])
            write_corpus(session, document=document, pages=[page], chunks=chunks,
                         embeddings=vectors)
            count += len(chunks)
        session.commit()
    return count


def answered(
    engine: Engine, tenant: str, questions: Sequence[tuple[str, Sequence[float]]], mode: str
) -> float:
    """Share of `questions` (text, vector) with at least one hit at the default threshold."""
    with Session(engine) as session:
        found = 0
        for text, vector in questions:
            hits = search(session, tenant=tenant, query_text=text, query_vector=vector,
                          mode=cast("SearchMode", mode), top_k=1)
            session.rollback()
            found += bool(hits)
    return round(found / len(questions), 4) if questions else 0.0


def off_topic(
    engine: Engine,
    embedder: Embedder,
    scifact_tenant: str,
    queries: dict[str, str],
    vectors: dict[str, list[float]],
    modes: Sequence[str],
) -> dict[str, Any]:
    """Per mode, the share of questions that get a hit at the default threshold from a corpus
    that cannot answer them (false answers: lower is better), and, as the other side of the
    trade, of questions the corpus does answer (higher is better).

    Unanswerable: SciFact's test claims against the bundled samples, and the everyday
    `OFF_TOPIC` questions against SciFact and against the samples. Answerable: the samples'
    own `SAMPLE_QUESTIONS`, and SciFact's test claims against SciFact.
    """
    chunks = store_samples(engine, embedder)
    claims = [(queries[q], vectors[q]) for q in queries]
    everyday = list(zip(OFF_TOPIC, embedder.embed(list(OFF_TOPIC)), strict=True))
    own = list(zip(SAMPLE_QUESTIONS, embedder.embed(list(SAMPLE_QUESTIONS)), strict=True))
    rates: dict[str, Any] = {"samples_chunks": chunks}
    for mode in modes:
        rates[mode] = {
            "false_scifact_claims_vs_samples": answered(engine, SAMPLES_TENANT, claims, mode),
            "false_everyday_vs_scifact": answered(engine, scifact_tenant, everyday, mode),
            "false_everyday_vs_samples": answered(engine, SAMPLES_TENANT, everyday, mode),
            "answered_sample_questions": answered(engine, SAMPLES_TENANT, own, mode),
            "answered_scifact_claims": answered(engine, scifact_tenant, claims, mode),
        }
    return rates
