"""Search hits from the database, chunked by the real chunker, assembled into cited context.

The chunker overlaps consecutive chunks; merging neighbours must give back the document text
exactly once, with the page range and section of the chunks it came from.
"""

from __future__ import annotations

import hashlib
import itertools

from sqlalchemy.orm import Session

from ingest.chunking import chunk_pages, join_pages
from ingest.store import insert_document, write_corpus
from ingest.types import CleanPage, Sniffed
from retrieval.context import assemble_context
from retrieval.search import search
from tests.support.fake_embedder import HashEmbedder

PAGE_1 = "# Results\n\n## Revenue\n\n" + " ".join(
    f"In month {i} revenue from the outdoor range grew by {i} percent." for i in range(1, 9)
)
PAGE_2 = " ".join(f"Store {i} reported steady footfall and {i} new hires." for i in range(1, 9))


def test_all_chunks_of_a_section_merge_back_into_the_exact_text(
    db_session: Session, hasher: HashEmbedder
) -> None:
    pages = [
        CleanPage(page_no=n, method="text", raw_text=t, text=t, cleanup="skipped")
        for n, t in ((1, PAGE_1), (2, PAGE_2))
    ]
    chunks = chunk_pages(pages, token_counter=hasher.count_tokens, max_tokens=40, overlap=10)
    assert len(chunks) >= 4 and any(
        b.char_start < a.char_end for a, b in itertools.pairwise(chunks)
    )
    data = (PAGE_1 + PAGE_2).encode()
    document = insert_document(
        db_session,
        tenant="acme",
        collection="default",
        filename="report.md",
        sniffed=Sniffed(kind="markdown", mime="text/markdown"),
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        metadata={},
    )
    vectors = hasher.embed([c.embed_text for c in chunks])
    write_corpus(db_session, document=document, pages=pages, chunks=chunks, embeddings=vectors)

    query = "revenue from the outdoor range grew"
    hits = search(
        db_session,
        tenant="acme",
        query_text=query,
        query_vector=hasher.embed([query])[0],
        mode="hybrid",
        top_k=100,
        min_score=-1.0,
    )
    assert len(hits) == len(chunks)
    context = assemble_context(hits, budget_tokens=10_000, count_tokens=hasher.count_tokens)

    (source,) = context.sources
    document_text = join_pages(pages).text
    assert source.text == document_text[chunks[0].char_start : chunks[-1].char_end]
    assert source.chunk_ids == tuple(sorted(h.chunk_id for h in hits))
    assert (source.page_start, source.page_end) == (1, 2)
    assert source.section == "Results > Revenue"
    assert context.text.startswith("[1] report.md, pp. 1–2 — Results > Revenue\nIn month 1")
