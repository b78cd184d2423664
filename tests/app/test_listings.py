"""Every paginated listing reports `total`: all of the tenant's rows matching its filters.

Driven over the HTTP layer against a real PostgreSQL. Two tenants with keys upload into the
same collection name, so only the tenant filter keeps `rival`'s rows out of `acme`'s counts.
No worker runs here: documents stay `processing` and jobs `queued` unless a test changes them,
and chunks and pages are written through the store, as a worker would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.auth import create_key
from app.container import Container
from ingest import store
from ingest.types import Chunk, CleanPage
from pipelines.ingestion import Job
from tests.support.fake_embedder import HashEmbedder

FAILED = {"code": "corrupt_document", "message": "bad", "details": {}}


@dataclass
class Tenants:
    """Request headers of the two tenants, and the ids of what each uploaded."""

    acme: dict[str, str]
    rival: dict[str, str]
    acme_x: list[str]
    acme_y: list[str]
    rival_x: list[str]


def _upload(client: TestClient, headers: dict[str, str], collection: str) -> dict[str, Any]:
    text = f"# Note\n\nmarker {uuid.uuid4().hex}\n".encode()
    response = client.post("/v1/documents", files={"file": ("n.md", text)},
                           data={"collection": collection}, headers=headers)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def _get(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def tenants(client: TestClient, container: Container) -> Tenants:
    """acme: 3 documents in `x` (the first failed) and 2 in `y`; rival: 2 in `x`."""
    with container.session_factory() as session:
        acme = {"Authorization": f"Bearer {create_key(session, 'acme')}"}
        rival = {"Authorization": f"Bearer {create_key(session, 'rival')}"}
    ids = {
        (name, collection): [_upload(client, headers, collection)["document"]["id"]
                             for _ in range(count)]
        for name, headers, collection, count in (
            ("acme", acme, "x", 3), ("acme", acme, "y", 2), ("rival", rival, "x", 2))
    }
    with container.session_factory() as session:
        store.mark_failed(session, tenant="acme", document_id=uuid.UUID(ids["acme", "x"][0]),
                          error=FAILED)
        session.commit()
    return Tenants(acme, rival, ids["acme", "x"], ids["acme", "y"], ids["rival", "x"])


def test_documents_total_counts_the_filtered_matches(
    client: TestClient, tenants: Tenants
) -> None:
    def total(**params: Any) -> int:
        return int(_get(client, "/v1/documents", tenants.acme, **params)["total"])

    assert total() == 5
    assert total(collection="x") == 3, "rival's two documents in x are not counted"
    assert total(collection="y") == 2
    assert total(status="failed") == 1
    assert total(status="processing") == 4
    assert total(collection="x", status="processing") == 2
    assert total(collection="nowhere") == 0
    assert _get(client, "/v1/documents", tenants.rival, collection="x")["total"] == 2


def test_documents_total_ignores_limit_and_offset(client: TestClient, tenants: Tenants) -> None:
    page = _get(client, "/v1/documents", tenants.acme, collection="x", limit=2)
    assert (len(page["items"]), page["total"], page["limit"]) == (2, 3, 2)
    rest = _get(client, "/v1/documents", tenants.acme, collection="x", limit=2, offset=2)
    assert (len(rest["items"]), rest["total"]) == (1, 3)
    past = _get(client, "/v1/documents", tenants.acme, offset=50)
    assert (past["items"], past["total"], past["offset"]) == ([], 5, 50)


def test_jobs_listing_counts_by_document_and_status(
    client: TestClient, container: Container, tenants: Tenants
) -> None:
    failed_doc = tenants.acme_x[0]
    with container.session_factory() as session:
        session.execute(update(Job).where(Job.document_id == uuid.UUID(failed_doc))
                        .values(status="failed"))
        session.commit()

    def listed(headers: dict[str, str], **params: Any) -> Any:
        return _get(client, "/v1/jobs", headers, **params)

    assert listed(tenants.acme)["total"] == 5
    assert listed(tenants.rival)["total"] == 2, "acme's jobs are not counted for rival"
    assert listed(tenants.acme, status="failed")["total"] == 1
    assert listed(tenants.acme, status="queued")["total"] == 4
    assert listed(tenants.rival, status="failed")["total"] == 0
    one = listed(tenants.acme, document_id=failed_doc)
    assert (one["total"], [j["document_id"] for j in one["items"]]) == (1, [failed_doc])
    assert listed(tenants.rival, document_id=failed_doc)["total"] == 0
    first = listed(tenants.acme, status="queued", limit=3)
    assert (len(first["items"]), first["total"]) == (3, 4)
    past = listed(tenants.acme, status="queued", offset=4)
    assert (past["items"], past["total"]) == ([], 4)
    assert client.get("/v1/jobs", params={"status": "lost"}, headers=tenants.acme
                      ).status_code == 422


def _write_corpus(container: Container, tenant: str, document_id: str, pages: int,
                  chunks: int) -> None:
    """Store `pages` pages and `chunks` chunks of the document, as a finished job would."""
    written = [CleanPage(page_no=i, method="text", raw_text=f"p{i}", text=f"p{i}",
                         cleanup="skipped") for i in range(1, pages + 1)]
    pieces = [Chunk(ordinal=i, text=f"c{i}", embed_text=f"c{i}", section_path=("S",),
                    page_start=1, page_end=1, char_start=0, char_end=2, token_count=3)
              for i in range(chunks)]
    with container.session_factory() as session:
        document = store.get_document(session, tenant=tenant, document_id=uuid.UUID(document_id))
        assert document is not None
        store.write_corpus(session, document=document, pages=written, chunks=pieces,
                           embeddings=HashEmbedder().embed([c.text for c in pieces]))
        session.commit()


def test_chunks_and_pages_totals_are_the_documents_own(
    client: TestClient, container: Container, tenants: Tenants
) -> None:
    document, other = tenants.acme_y
    _write_corpus(container, "acme", document, pages=3, chunks=5)
    _write_corpus(container, "acme", other, pages=2, chunks=4)
    _write_corpus(container, "rival", tenants.rival_x[0], pages=7, chunks=9)
    base = f"/v1/documents/{document}"

    chunks = _get(client, f"{base}/chunks", tenants.acme, limit=2)
    assert ([c["ordinal"] for c in chunks["items"]], chunks["total"]) == ([0, 1], 5)
    past = _get(client, f"{base}/chunks", tenants.acme, offset=5)
    assert (past["items"], past["total"]) == ([], 5)
    pages = _get(client, f"{base}/pages", tenants.acme, limit=1, offset=1)
    assert ([p["page_no"] for p in pages["items"]], pages["total"]) == ([2], 3)
    past = _get(client, f"{base}/pages", tenants.acme, offset=99)
    assert (past["items"], past["total"]) == ([], 3)
    assert _get(client, f"/v1/documents/{other}/chunks", tenants.acme)["total"] == 4
    empty = _get(client, f"/v1/documents/{tenants.acme_x[1]}/pages", tenants.acme)
    assert (empty["items"], empty["total"]) == ([], 0)
