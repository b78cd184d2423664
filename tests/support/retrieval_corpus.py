"""Helpers that put small corpora into the test database through the real ingest write path.

Documents are written with `ingest.store.insert_document` + `write_corpus`, exactly as the
ingestion job writes them, so retrieval is tested against the rows it will really meet.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from ingest.corpus import Document
from ingest.store import insert_document, write_corpus
from ingest.types import PAGE_SEPARATOR, Chunk, CleanPage, Sniffed

Embed = Callable[[Sequence[str]], list[list[float]]]


def add_document(
    session: Session,
    *,
    tenant: str,
    texts: Sequence[str],
    embed: Embed | None = None,
    vectors: Sequence[Sequence[float]] | None = None,
    collection: str = "default",
    filename: str | None = None,
    section: str = "",
    metadata: dict[str, Any] | None = None,
    status: str = "ready",
) -> Document:
    """One document whose chunks are `texts` (one page each, in order), embedded by `embed`
    or given `vectors`; `status` other than `ready` is set after the write."""
    name = filename or f"doc-{uuid.uuid4().hex[:8]}.txt"
    body = PAGE_SEPARATOR.join(texts)
    pages = [
        CleanPage(page_no=i, method="text", raw_text=t, text=t, cleanup="skipped")
        for i, t in enumerate(texts, start=1)
    ]
    chunks, offset = [], 0
    path = tuple(section.split(" > ")) if section else ()
    for ordinal, text in enumerate(texts):
        chunks.append(
            Chunk(
                ordinal=ordinal,
                text=text,
                embed_text=f"{section}\n{text}" if section else text,
                section_path=path,
                page_start=ordinal + 1,
                page_end=ordinal + 1,
                char_start=offset,
                char_end=offset + len(text),
                token_count=len(text.split()),
            )
        )
        offset += len(text) + len(PAGE_SEPARATOR)
    if vectors is None:
        assert embed is not None, "give embed or vectors"
        vectors = embed([c.embed_text for c in chunks])
    data = body.encode()
    document = insert_document(
        session,
        tenant=tenant,
        collection=collection,
        filename=name,
        sniffed=Sniffed(kind="text", mime="text/plain"),
        data=data,
        sha256=hashlib.sha256(data + uuid.uuid4().bytes).hexdigest(),
        metadata=metadata or {},
    )
    write_corpus(session, document=document, pages=pages, chunks=chunks, embeddings=vectors)
    if status != "ready":
        session.execute(update(Document).where(Document.id == document.id).values(status=status))
    session.flush()
    return document
