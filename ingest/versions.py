"""A document's next version: which vectors its chunks can reuse, and the swap of its contents.

A chunk's `content_hash` is the SHA-256 of exactly the text that was embedded (`embed_text`:
the section path line and the chunk's text), so a chunk of the new version whose hash is among
the current version's chunks gets that chunk's vector instead of a call to the embedder.
Chunks written before hashes covered `embed_text` hashed their `text` alone; the two agree
exactly when a chunk has no section prefix (then `embed_text` is `text`), so an old hash never
lends a vector to a different text.

`replace_contents` moves a new version's bytes into the document row and its file; the caller
does it in the transaction that writes the new pages and chunks (`store.write_corpus`), so a
search sees either the old version whole or the new one whole. None of this commits.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ingest.corpus import ChunkRow, Document, DocumentFile
from ingest.types import Chunk


def content_hash(chunk: Chunk) -> str:
    """What a chunk's `content_hash` holds: the SHA-256 of its `embed_text`, the very text the
    embedder sees, so equal hashes mean its vector can be reused."""
    return hashlib.sha256(chunk.embed_text.encode()).hexdigest()


def known_vectors(
    session: Session, *, tenant: str, document_id: uuid.UUID
) -> Callable[[Chunk], list[float] | None]:
    """The document's current vectors by content hash, as the pipeline's `KnownVectors`: the
    vector of a current chunk with the same embedded text, or None."""
    rows = session.execute(
        select(ChunkRow.content_hash, ChunkRow.embedding).where(
            ChunkRow.document_id == document_id, ChunkRow.tenant_id == tenant
        )
    )
    known: dict[str, list[float]] = {}
    for digest, vector in rows:
        known.setdefault(digest, [float(x) for x in vector])

    def lookup(chunk: Chunk) -> list[float] | None:
        return known.get(content_hash(chunk))

    return lookup


@dataclass(frozen=True)
class Contents:
    """What an upload puts in a document: its bytes and what was learnt of them on upload,
    and the metadata that replaces the document's (None: kept)."""

    filename: str
    kind: str
    content_type: str
    sha256: str
    data: bytes
    metadata: dict[str, Any] | None = None


def replace_contents(session: Session, *, document: Document, contents: Contents) -> int:
    """Make `contents` the document's: its file's bytes, name, kind, type, digest and size, its
    metadata when given, and the next version number, which is returned. Flushes, so bytes
    another document of the collection already holds raise IntegrityError here."""
    values: dict[Any, Any] = {
        Document.filename: contents.filename,
        Document.kind: contents.kind,
        Document.content_type: contents.content_type,
        Document.sha256: contents.sha256,
        Document.size_bytes: len(contents.data),
        Document.version: Document.version + 1,
    }
    if contents.metadata is not None:
        values[Document.metadata_] = dict(contents.metadata)
    version = session.execute(
        update(Document)
        .where(Document.id == document.id, Document.tenant_id == document.tenant_id)
        .values(values)
        .returning(Document.version)
    ).scalar_one()
    session.execute(
        update(DocumentFile)
        .where(DocumentFile.document_id == document.id)
        .values(data=contents.data)
    )
    session.flush()
    return int(version)
