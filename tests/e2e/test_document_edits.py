"""Editing a document without ingesting it again, its original bytes, and the collections,
over real HTTP: filters and searches see an edit at once, the chunks stay the same rows."""

from __future__ import annotations

import httpx

from tests.support.api import items, upload, wait_for_job
from tests.support.cer import SAMPLES

NOTE = (SAMPLES / "note.md").read_bytes()


def _search(client: httpx.Client, **body: object) -> list[str]:
    response = client.post("/v1/search", json={"query": "kiosk pilot plan", "mode": "text",
                                                "min_score": 0, **body})
    assert response.status_code == 200, response.text
    return [hit["document_id"] for hit in response.json()["hits"]]


def test_metadata_and_collection_edits_reach_search_without_reembedding(
        alpha: httpx.Client, beta: httpx.Client) -> None:
    response = upload(alpha, "note.md", NOTE, collection="edits-a", metadata='{"team": "ops"}')
    assert response.status_code == 202, response.text
    doc = response.json()["document"]["id"]
    assert wait_for_job(alpha, response.json()["job"]["id"])["status"] == "succeeded"
    chunks = [c["id"] for c in items(alpha, f"/v1/documents/{doc}/chunks")]
    assert doc not in _search(alpha, metadata={"team": "finance"})

    edited = alpha.patch(f"/v1/documents/{doc}", json={"metadata": {"team": "finance"}})
    assert edited.status_code == 200, edited.text
    assert edited.json()["metadata"] == {"team": "finance"}
    assert doc in _search(alpha, metadata={"team": "finance"})
    assert doc not in _search(alpha, metadata={"team": "ops"})

    moved = alpha.patch(f"/v1/documents/{doc}", json={"collection": "edits-b"})
    assert moved.status_code == 200 and moved.json()["collection"] == "edits-b"
    assert moved.json()["metadata"] == {"team": "finance"}  # left out: unchanged
    assert doc in _search(alpha, collection="edits-b")
    assert doc not in _search(alpha, collection="edits-a")
    assert [c["id"] for c in items(alpha, f"/v1/documents/{doc}/chunks")] == chunks
    collections = {c["name"]: c for c in alpha.get("/v1/collections").json()["items"]}
    assert collections["edits-b"] | {"name": "edits-b"} == {
        "name": "edits-b", "documents": 1, "ready": 1, "processing": 0, "failed": 0,
        "chunks": len(chunks)}
    assert "edits-a" not in collections
    assert "edits-b" not in {c["name"] for c in beta.get("/v1/collections").json()["items"]}

    copy = upload(alpha, "note-copy.md", NOTE, collection="edits-c")
    assert copy.status_code == 202
    clash = alpha.patch(f"/v1/documents/{doc}", json={"collection": "edits-c"})
    assert (clash.status_code, clash.json()["error"]["code"]) == (409, "duplicate_document")
    assert alpha.get(f"/v1/documents/{doc}").json()["collection"] == "edits-b"

    bad = alpha.patch(f"/v1/documents/{doc}", content=b'{"metadata": {"a": NaN}}',
                      headers={"content-type": "application/json"})
    assert bad.status_code == 422
    assert beta.patch(f"/v1/documents/{doc}", json={"metadata": {}}).status_code == 404
    assert alpha.get(f"/v1/documents/{doc}").json()["metadata"] == {"team": "finance"}


def test_the_original_file_comes_back_as_uploaded(alpha: httpx.Client,
                                                  beta: httpx.Client) -> None:
    response = upload(alpha, "réunion notes.md", NOTE + b"\n", collection="originals")
    assert response.status_code == 202, response.text
    doc = response.json()["document"]["id"]
    got = alpha.get(f"/v1/documents/{doc}/file")
    assert got.status_code == 200 and got.content == NOTE + b"\n"
    assert got.headers["content-type"].startswith("text/markdown")
    assert got.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''r%C3%A9union%20notes.md")
    assert beta.get(f"/v1/documents/{doc}/file").status_code == 404


def test_cancel_over_http_refuses_ended_and_foreign_jobs(alpha: httpx.Client,
                                                         beta: httpx.Client) -> None:
    response = upload(alpha, "cancel-me.md", NOTE + b"\nCancel me.\n")
    job = response.json()["job"]["id"]
    assert beta.post(f"/v1/jobs/{job}/cancel").status_code == 404
    first = alpha.post(f"/v1/jobs/{job}/cancel")
    if first.status_code == 200:  # still queued or running: cancelled
        assert first.json()["status"] == "cancelled"
        assert first.json()["error"]["code"] == "cancelled"
        assert wait_for_job(alpha, job)["status"] == "cancelled"
    else:  # the worker was quicker
        assert first.json()["error"]["code"] == "job_finished"
    again = alpha.post(f"/v1/jobs/{job}/cancel")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "job_finished")
    listed = alpha.get("/v1/jobs", params={"status": "cancelled"})
    assert listed.status_code == 200
