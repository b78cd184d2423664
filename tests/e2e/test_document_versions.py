"""New versions of a document over real HTTP, with the real embedder and database: one
document whose contents are replaced whole, only changed chunks embedded again, the previous
version searchable until the new one is committed and kept when the new one fails or is
cancelled."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.versions import handbook, reference, section_heading
from pipelines import ingestion
from tests.support.api import Server, items, upload, wait_for_job

GARBAGE_PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8
"""Accepted on upload (it looks like a PDF), fails in the job as `corrupt_document`."""


def _put(client: httpx.Client, document_id: str, data: bytes, **form: str) -> httpx.Response:
    return client.put(f"/v1/documents/{document_id}/content",
                      files={"file": ("handbook.pdf", data)}, data=form)


def _texts(client: httpx.Client, word: str, collection: str) -> dict[str, list[str]]:
    """The texts of the hits for `word`, by document id (full-text search, no threshold)."""
    response = client.post("/v1/search", json={"query": word, "mode": "text", "min_score": 0,
                                                "collection": collection, "top_k": 50})
    assert response.status_code == 200, response.text
    found: dict[str, list[str]] = {}
    for hit in response.json()["hits"]:
        if word in hit["text"]:
            found.setdefault(hit["document_id"], []).append(hit["text"])
    return found


def _section_chunks(client: httpx.Client, document_id: str, number: int) -> int:
    chunks = items(client, f"/v1/documents/{document_id}/chunks")
    return sum(1 for chunk in chunks if chunk["section_path"][:1] == [section_heading(number)])


def _succeeded(client: httpx.Client, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["job"]["id"])
    assert job["status"] == "succeeded", job
    return job


@contextmanager
def _held(server: Server, job_id: str) -> Iterator[Session]:
    """Hold the job's row lock: a worker can neither claim it (SKIP LOCKED) nor write its
    progress or final state until the block ends; the session is the lock holder's."""
    with server.container.session_factory() as session:
        session.execute(select(ingestion.Job.id).where(ingestion.Job.id == uuid.UUID(job_id))
                        .with_for_update())
        yield session
        session.commit()


def test_a_new_version_reembeds_only_the_changed_section(alpha: httpx.Client) -> None:
    collection, name = f"versions-{uuid.uuid4().hex[:6]}", f"handbook-{uuid.uuid4().hex[:6]}"
    v1, v2, v3 = handbook(), handbook({7: 1}), handbook({7: 1, 12: 1})

    first = upload(alpha, "handbook.pdf", v1, collection=collection, external_id=name)
    assert first.json()["outcome"] == "created", first.text
    job = _succeeded(alpha, first)
    doc = first.json()["document"]["id"]
    body = alpha.get(f"/v1/documents/{doc}").json()
    assert (body["version"], body["external_id"], body["page_count"]) == (1, name, 20)
    total = body["chunk_count"]
    assert (job["version"], job["chunks_reused"], job["chunks_embedded"]) == (1, 0, total)
    assert doc in _texts(alpha, reference(7), collection)

    second = _put(alpha, doc, v2)
    assert second.json()["outcome"] == "version" and second.json()["job"]["version"] == 2
    job = _succeeded(alpha, second)
    changed = _section_chunks(alpha, doc, 7)
    assert changed >= 2 and total >= 20 * changed - 2  # every section is about this size
    assert (job["chunks_embedded"], job["chunks_reused"]) == (changed, total - changed)
    body = alpha.get(f"/v1/documents/{doc}").json()
    assert (body["version"], body["status"], body["chunk_count"]) == (2, "ready", total)
    assert body["id"] == doc and body["external_id"] == name
    assert alpha.get(f"/v1/documents/{doc}/file").content == v2
    assert doc in _texts(alpha, reference(7, 1), collection)
    assert _texts(alpha, reference(7), collection) == {}  # the old section is gone
    assert doc in _texts(alpha, reference(12), collection)  # the rest is still there

    third = upload(alpha, "handbook-v3.pdf", v3, collection=collection, external_id=name)
    assert third.json()["outcome"] == "version" and third.json()["document"]["id"] == doc
    job = _succeeded(alpha, third)
    changed = _section_chunks(alpha, doc, 12)
    assert (job["chunks_embedded"], job["chunks_reused"]) == (changed, total - changed)
    body = alpha.get(f"/v1/documents/{doc}").json()
    assert (body["version"], body["filename"]) == (3, "handbook-v3.pdf")
    assert doc in _texts(alpha, reference(12, 1), collection)
    assert _texts(alpha, reference(12), collection) == {}
    documents = items(alpha, f"/v1/documents?collection={collection}")
    assert [d["id"] for d in documents] == [doc]  # one document, never a second

    for again in (upload(alpha, "same.pdf", v3, collection=collection, external_id=name),
                  _put(alpha, doc, v3)):
        assert again.status_code == 200, again.text
        assert (again.json()["outcome"], again.json()["job"]) == ("unchanged", None)
    assert alpha.get(f"/v1/documents/{doc}").json()["version"] == 3
    assert len(items(alpha, f"/v1/jobs?document_id={doc}")) == 3


def test_the_previous_version_stays_searchable_until_the_new_one_commits(
        server: Server, alpha: httpx.Client, beta: httpx.Client) -> None:
    collection = f"versions-{uuid.uuid4().hex[:6]}"
    v1, v2 = handbook(sections=3), handbook({2: 1}, sections=3)
    first = upload(alpha, "short.pdf", v1, collection=collection, external_id="short")
    _succeeded(alpha, first)
    doc = first.json()["document"]["id"]
    chunks = [c["id"] for c in items(alpha, f"/v1/documents/{doc}/chunks")]

    def unchanged() -> None:
        body = alpha.get(f"/v1/documents/{doc}").json()
        assert (body["version"], body["status"], body["error"]) == (1, "ready", None)
        assert [c["id"] for c in items(alpha, f"/v1/documents/{doc}/chunks")] == chunks
        assert doc in _texts(alpha, reference(2), collection)
        assert _texts(alpha, reference(2, 1), collection) == {}
        assert alpha.get(f"/v1/documents/{doc}/file").content == v1

    queued = _put(alpha, doc, v2)
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job"]["id"]
    with _held(server, job_id) as session:  # the new version is being processed
        unchanged()
        busy = _put(alpha, doc, handbook({3: 1}, sections=3))
        assert busy.status_code == 409, busy.text
        assert busy.json()["error"]["code"] == "document_busy"
        assert busy.json()["error"]["details"]["job_id"] == job_id
        ingestion.cancel_job(session, tenant="alpha", job_id=uuid.UUID(job_id))
    assert wait_for_job(alpha, job_id)["status"] == "cancelled"
    unchanged()

    broken = _put(alpha, doc, GARBAGE_PDF)
    assert broken.status_code == 202, broken.text
    failed = wait_for_job(alpha, broken.json()["job"]["id"])
    assert (failed["status"], failed["error"]["code"]) == ("failed", "corrupt_document")
    unchanged()
    with server.container.session_factory() as session:
        left = session.scalars(select(ingestion.PendingVersion.job_id).where(
            ingestion.PendingVersion.document_id == uuid.UUID(doc))).all()
    assert left == []  # neither the cancelled nor the failed version's bytes are kept

    job = _succeeded(alpha, _put(alpha, doc, v2))
    assert (job["version"], job["chunks_reused"]) == (2, len(chunks) - _section_chunks(
        alpha, doc, 2))
    assert alpha.get(f"/v1/documents/{doc}").json()["version"] == 2
    assert doc in _texts(alpha, reference(2, 1), collection)

    missing = _put(alpha, str(uuid.uuid4()), v2)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "document_not_found")
    assert set(missing.json()["error"]) == {"code", "message", "details"}
    assert _put(beta, doc, v1).status_code == 404  # another tenant's document
    own = upload(beta, "short.pdf", v1, collection=collection, external_id="short")
    assert own.json()["outcome"] == "created" and own.json()["document"]["id"] != doc
    assert alpha.get(f"/v1/documents/{doc}").json()["version"] == 2
