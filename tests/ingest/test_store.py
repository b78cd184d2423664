"""Corpus writes and reads on the real PostgreSQL: tenant filters, atomic replace, cascade."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingest import store
from ingest.corpus import ChunkRow, Document, DocumentFile, Page
from ingest.types import Chunk, CleanPage, Sniffed
from tests.support.fake_embedder import HashEmbedder

TEXT = Sniffed(kind="text", mime="text/plain")


def _document(
    session: Session, tenant: str = "acme", data: bytes = b"hello", **kw: str
) -> Document:
    return store.insert_document(
        session,
        tenant=tenant,
        collection=kw.get("collection", "default"),
        filename=kw.get("filename", "a.txt"),
        sniffed=TEXT,
        data=data,
        sha256=kw.get("sha256", uuid.uuid4().hex),
        metadata={"source": "test"},
    )


def _pages(n: int) -> list[CleanPage]:
    return [
        CleanPage(
            page_no=i,
            method="text",
            raw_text=f"raw {i}",
            text=f"# Part {i}\nbody {i}",
            cleanup="skipped",
            cleanup_reason="text layer",
        )
        for i in range(1, n + 1)
    ]


def _chunks(n: int) -> list[Chunk]:
    return [
        Chunk(
            ordinal=i,
            text=f"body {i}",
            embed_text=f"Part {i}\nbody {i}",
            section_path=("Report", f"Part {i}"),
            page_start=i + 1,
            page_end=i + 1,
            char_start=10 * i,
            char_end=10 * i + 6,
            token_count=4,
        )
        for i in range(n)
    ]


def _vectors(chunks: list[Chunk]) -> list[list[float]]:
    return HashEmbedder().embed([c.embed_text for c in chunks])


def test_insert_stores_bytes_and_a_processing_document(db_session: Session) -> None:
    doc = _document(db_session, data=b"some bytes")
    assert doc.status == "processing"
    assert store.load_file(db_session, tenant="acme", document_id=doc.id) == b"some bytes"
    assert store.load_file(db_session, tenant="other", document_id=doc.id) is None
    assert doc.size_bytes == 10 and doc.kind == "text" and doc.metadata_ == {"source": "test"}


def test_same_sha_in_same_collection_violates_unique(db_session: Session) -> None:
    _document(db_session, sha256="abc")
    _document(db_session, sha256="abc", collection="other")  # another collection is fine
    _document(db_session, tenant="b", sha256="abc")  # another tenant is fine
    found = store.find_by_sha256(db_session, tenant="acme", collection="default", sha256="abc")
    assert found is not None and found.collection == "default"
    with pytest.raises(IntegrityError), db_session.begin_nested():
        _document(db_session, sha256="abc")


def test_write_corpus_marks_ready_and_replaces_on_rerun(db_session: Session) -> None:
    doc = _document(db_session)
    chunks = _chunks(3)
    store.write_corpus(
        db_session, document=doc, pages=_pages(2), chunks=chunks, embeddings=_vectors(chunks)
    )
    store.write_corpus(
        db_session, document=doc, pages=_pages(2), chunks=chunks, embeddings=_vectors(chunks)
    )  # a second run must not duplicate
    db_session.refresh(doc)
    assert (doc.status, doc.page_count, doc.chunk_count) == ("ready", 2, 3)
    rows = store.list_chunks(db_session, tenant="acme", document_id=doc.id).rows
    assert [r.ordinal for r in rows] == [0, 1, 2]
    assert rows[1].section == "Report > Part 1" and rows[1].section_path == ["Report", "Part 1"]
    assert (rows[1].page_start, rows[1].char_start, rows[1].char_end) == (2, 10, 16)
    assert len(rows[0].embedding) == 384 and rows[0].tenant_id == "acme"
    assert rows[0].collection == doc.collection
    pages = store.list_pages(db_session, tenant="acme", document_id=doc.id).rows
    assert [(p.page_no, p.raw_text, p.cleanup) for p in pages] == [
        (1, "raw 1", "skipped"),
        (2, "raw 2", "skipped"),
    ]


def test_generated_tsv_finds_section_words(db_session: Session) -> None:
    doc = _document(db_session)
    chunks = _chunks(2)
    store.write_corpus(
        db_session, document=doc, pages=_pages(1), chunks=chunks, embeddings=_vectors(chunks)
    )
    hits = db_session.scalars(
        select(ChunkRow.ordinal).where(
            ChunkRow.document_id == doc.id,
            ChunkRow.tsv.bool_op("@@")(func.plainto_tsquery("english", "report")),
        )
    ).all()
    assert sorted(hits) == [0, 1]


def test_write_corpus_rejects_mismatched_embeddings(db_session: Session) -> None:
    doc = _document(db_session)
    with pytest.raises(ValueError, match="2 chunks but 1 embeddings"):
        store.write_corpus(
            db_session, document=doc, pages=[], chunks=_chunks(2), embeddings=_vectors(_chunks(1))
        )


def test_reads_are_tenant_filtered(db_session: Session) -> None:
    doc = _document(db_session, tenant="a")
    chunks = _chunks(2)
    store.write_corpus(
        db_session, document=doc, pages=_pages(1), chunks=chunks, embeddings=_vectors(chunks)
    )
    assert store.get_document(db_session, tenant="b", document_id=doc.id) is None
    for listing in (
        store.list_chunks(db_session, tenant="b", document_id=doc.id),
        store.list_pages(db_session, tenant="b", document_id=doc.id),
        store.list_documents(db_session, tenant="b"),
    ):
        assert (listing.rows, listing.total) == ([], 0), "neither rows nor a count leak"
    assert store.list_chunks(db_session, tenant="a", document_id=doc.id).total == 2
    assert not store.delete_document(db_session, tenant="b", document_id=doc.id)
    assert store.get_document(db_session, tenant="a", document_id=doc.id) is not None


def test_list_documents_filters_and_pages(db_session: Session) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    docs = [_document(db_session, tenant=tenant, collection=c) for c in ("x", "x", "y")]
    store.mark_failed(
        db_session,
        tenant=tenant,
        document_id=docs[0].id,
        error={"code": "corrupt_document", "message": "bad", "details": {}},
    )
    assert len(store.list_documents(db_session, tenant=tenant).rows) == 3
    in_x = store.list_documents(db_session, tenant=tenant, collection="x")
    assert ({d.id for d in in_x.rows}, in_x.total) == ({docs[0].id, docs[1].id}, 2)
    failed = store.list_documents(db_session, tenant=tenant, status="failed")
    assert ([d.id for d in failed.rows], failed.total) == ([docs[0].id], 1)
    first = store.list_documents(db_session, tenant=tenant, limit=2)
    rest = store.list_documents(db_session, tenant=tenant, limit=2, offset=2)
    assert len(first.rows) == 2 and len(rest.rows) == 1
    assert rest.rows[0].id not in {d.id for d in first.rows}
    assert first.total == rest.total == 3


def test_delete_cascades_to_file_pages_and_chunks(db_session: Session) -> None:
    doc = _document(db_session)
    chunks = _chunks(2)
    store.write_corpus(
        db_session, document=doc, pages=_pages(2), chunks=chunks, embeddings=_vectors(chunks)
    )
    assert store.delete_document(db_session, tenant="acme", document_id=doc.id)
    db_session.expunge_all()
    for table in (ChunkRow, Page, DocumentFile):
        count = db_session.scalar(
            select(func.count()).select_from(table).where(table.document_id == doc.id)
        )
        assert count == 0, table.__tablename__
