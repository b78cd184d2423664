"""The bad-input corpus over real HTTP: every kind of hostile or broken request to uploads,
search, ask, extract and listings gets its documented 4xx error body, the server stays
healthy, and nothing stored changes (no document or job row appears, none is touched).

Multipart bodies are written by hand where a client library would "fix" the input (httpx
percent-encodes control characters in file names).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ingest.corpus import Document
from pipelines.ingestion import Job
from tests.support.api import E2E_UPLOAD_LIMIT, Server, upload, wait_for_job

TEXT = b"Hostile input never breaks lectern.\n"
JSON = {"content-type": "application/json"}
Send = Callable[[httpx.Client], httpx.Response]


def _nested(depth: int, leaf: str = "1") -> str:
    return '{"a":' * depth + leaf + "}" * depth


def _multipart(*parts: tuple[str, str | None, bytes]) -> tuple[bytes, dict[str, str]]:
    """A multipart body of (field name, file name or None, bytes) parts, exactly as given."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode(
            "utf-8", "surrogatepass") + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), {
        "content-type": f"multipart/form-data; boundary={boundary}"}


def _raw_upload(*parts: tuple[str, str | None, bytes]) -> Send:
    body, headers = _multipart(*parts)
    return lambda c: c.post("/v1/documents", content=body, headers=headers)


def _metadata(raw: str) -> Send:
    """An upload of new bytes (not deduplicated against an earlier one) with `raw` metadata."""
    return lambda c: upload(c, "m.txt", TEXT + uuid.uuid4().bytes.hex().encode(), metadata=raw)


def _post_json(path: str, raw: str) -> Send:
    return lambda c: c.post(path, content=raw.encode("utf-8", "surrogatepass"), headers=JSON)


def _get(path: str, **params: Any) -> Send:
    return lambda c: c.get(path, params=params)


def _extract_form(*parts: tuple[str, str | None, bytes]) -> Send:
    body, headers = _multipart(*parts)
    return lambda c: c.post("/v1/extract", content=body, headers=headers)


@dataclass(frozen=True)
class Case:
    """One bad request: what is sent, and the status and error code it must get."""

    name: str
    send: Send
    status: int
    code: str


FILE = ("file", "note.txt", TEXT)
DOC = "/v1/documents"
CASES = [
    # uploads: the file part, its name and the form fields
    Case("filename-nul", _raw_upload(("file", "a\x00b.txt", TEXT)), 422, "invalid_text"),
    Case("filename-control", _raw_upload(("file", "a\x07b.txt", TEXT)), 422, "invalid_text"),
    Case("two-file-parts", _raw_upload(FILE, ("file", "other.txt", b"other words")),
         422, "multiple_files"),
    Case("no-file-part", _raw_upload(("collection", None, b"c")), 422, "validation_error"),
    Case("collection-nul", _raw_upload(FILE, ("collection", None, b"c\x00d")),
         422, "validation_error"),
    Case("collection-escape", _raw_upload(FILE, ("collection", None, b"c\x1b[2J")), 422,
         "validation_error"),
    Case("collection-too-long", _raw_upload(FILE, ("collection", None, b"c" * 201)),
         422, "validation_error"),
    Case("empty-file", lambda c: upload(c, "e.txt", b""), 400, "empty_file"),
    Case("zip-file", lambda c: upload(c, "a.zip", b"PK\x03\x04" + bytes(64)), 415,
         "unsupported_file_type"),
    Case("file-too-large", lambda c: upload(c, "big.txt", b"x" * (E2E_UPLOAD_LIMIT + 1)),
         413, "file_too_large"),
    # upload metadata
    Case("metadata-nul-value", _metadata('{"a": "x\\u0000y"}'), 422, "invalid_metadata"),
    Case("metadata-nul-key", _metadata('{"a\\u0000": 1}'), 422, "invalid_metadata"),
    Case("metadata-lone-surrogate", _metadata('{"a": "\\ud800"}'), 422, "invalid_metadata"),
    Case("metadata-nan", _metadata('{"a": NaN}'), 422, "invalid_metadata"),
    Case("metadata-infinity", _metadata('{"a": [1, Infinity]}'), 422, "invalid_metadata"),
    Case("metadata-minus-infinity", _metadata('{"a": -Infinity}'), 422, "invalid_metadata"),
    Case("metadata-1e400", _metadata('{"a": 1e400}'), 422, "invalid_metadata"),
    Case("metadata-5000-digits", _metadata('{"a": ' + "9" * 5000 + "}"), 422,
         "invalid_metadata"),
    Case("metadata-depth-33", _metadata(_nested(33)), 422, "invalid_metadata"),
    Case("metadata-depth-300", _metadata(_nested(300)), 422, "invalid_metadata"),
    Case("metadata-depth-5000", _metadata(_nested(5000)), 422, "invalid_metadata"),
    Case("metadata-array", _metadata("[1, 2]"), 422, "invalid_metadata"),
    Case("metadata-null", _metadata("null"), 422, "invalid_metadata"),
    Case("metadata-not-json", _metadata("{oops"), 422, "invalid_metadata"),
    Case("metadata-too-long", _metadata('{"a": "' + "x" * 70_000 + '"}'), 422,
         "invalid_metadata"),
    # search
    Case("search-query-nul", _post_json("/v1/search", '{"query": "a\\u0000b"}'), 422,
         "validation_error"),
    Case("search-query-surrogate", _post_json("/v1/search", '{"query": "a\\udc00"}'), 422,
         "validation_error"),
    Case("search-collection-nul",
         _post_json("/v1/search", '{"query": "q", "collection": "\\u0000"}'), 422,
         "validation_error"),
    Case("search-filter-nan", _post_json("/v1/search", '{"query": "q", "metadata": {"a": NaN}}'),
         422, "validation_error"),
    Case("search-filter-nul", _post_json("/v1/search", '{"query": "q", "metadata": {"a": '
                                         '"\\u0000"}}'), 422, "validation_error"),
    Case("search-filter-depth-40",
         _post_json("/v1/search", '{"query": "q", "metadata": ' + _nested(40) + "}"), 422,
         "validation_error"),
    Case("search-body-depth-5000", _post_json("/v1/search", _nested(5000)), 422,
         "validation_error"),
    Case("search-top-k-5000-digits", _post_json("/v1/search", '{"query": "q", "top_k": '
                                                + "9" * 5000 + "}"), 422, "validation_error"),
    Case("search-empty-query", _post_json("/v1/search", '{"query": ""}'), 422,
         "validation_error"),
    Case("search-long-query", _post_json("/v1/search", '{"query": "' + "q" * 4001 + '"}'),
         422, "validation_error"),
    Case("search-top-k-zero", _post_json("/v1/search", '{"query": "q", "top_k": 0}'), 422,
         "validation_error"),
    Case("search-bad-mode", _post_json("/v1/search", '{"query": "q", "mode": "sql"}'), 422,
         "validation_error"),
    Case("search-min-score-2", _post_json("/v1/search", '{"query": "q", "min_score": 2}'),
         422, "validation_error"),
    Case("search-bad-document-id",
         _post_json("/v1/search", '{"query": "q", "document_ids": ["x"]}'), 422,
         "validation_error"),
    Case("search-unknown-field", _post_json("/v1/search", '{"query": "q", "sql": "drop"}'),
         422, "validation_error"),
    Case("search-not-json", _post_json("/v1/search", "{query"), 422, "validation_error"),
    Case("search-array-body", _post_json("/v1/search", "[]"), 422, "validation_error"),
    # ask
    Case("ask-question-nul", _post_json("/v1/ask", '{"question": "\\u0000", "stream": false}'),
         422, "validation_error"),
    Case("ask-question-surrogate",
         _post_json("/v1/ask", '{"question": "\\ud83d", "stream": false}'), 422,
         "validation_error"),
    Case("ask-filter-infinity", _post_json("/v1/ask", '{"question": "q", "metadata": '
                                           '{"a": Infinity}}'), 422, "validation_error"),
    Case("ask-body-depth-5000", _post_json("/v1/ask", _nested(5000)), 422, "validation_error"),
    # extract
    Case("extract-text-nul", _post_json("/v1/extract", '{"schema": "receipt", "text": '
                                        '"a\\u0000"}'), 422, "validation_error"),
    Case("extract-schema-nan", _post_json("/v1/extract", '{"schema": {"type": "object", '
                                          '"maximum": NaN}, "text": "t"}'), 422,
         "validation_error"),
    Case("extract-schema-deep", _post_json("/v1/extract", '{"schema": ' + _nested(40)
                                           + ', "text": "t"}'), 422, "validation_error"),
    Case("extract-two-sources", _post_json("/v1/extract", '{"schema": "receipt", "text": "t", '
                                           f'"document_id": "{uuid.uuid4()}"}}'), 422,
         "validation_error"),
    Case("extract-form-filename-nul", _extract_form(("file", "r\x00.txt", TEXT),
                                                    ("schema", None, b"receipt")),
         422, "invalid_text"),
    Case("extract-form-collection-nul", _extract_form(FILE, ("schema", None, b"receipt"),
                                                      ("collection", None, b"\x00")),
         422, "invalid_text"),
    Case("extract-form-schema-deep", _extract_form(FILE, ("schema", None,
                                                          _nested(5000).encode())),
         422, "invalid_schema"),
    # listings
    Case("documents-offset-2-63", _get(DOC, offset=2**63), 422, "validation_error"),
    Case("documents-offset-negative", _get(DOC, offset=-1), 422, "validation_error"),
    Case("documents-limit-zero", _get(DOC, limit=0), 422, "validation_error"),
    Case("documents-limit-1001", _get(DOC, limit=1001), 422, "validation_error"),
    Case("documents-collection-nul", _get(DOC, collection="a\x00"), 422, "validation_error"),
    Case("documents-bad-status", _get(DOC, status="gone"), 422, "validation_error"),
    Case("document-bad-id", _get(f"{DOC}/not-a-uuid"), 422, "validation_error"),
    Case("document-unknown-id", _get(f"{DOC}/{uuid.uuid4()}"), 404, "document_not_found"),
    Case("chunks-offset-2-63", _get(f"{DOC}/{uuid.uuid4()}/chunks", offset=2**63), 422,
         "validation_error"),
    Case("jobs-offset-2-63", _get("/v1/jobs", offset=2**63), 422, "validation_error"),
    Case("usage-bad-since", _get("/v1/usage", since="yesterday"), 422, "validation_error"),
]


def _stored(server: Server) -> tuple[int, int, Any, Any]:
    """How many document and job rows exist, and when the latest of each was last changed."""
    with server.container.session_factory() as session:
        documents = session.execute(
            select(func.count(), func.max(Document.updated_at))).one()
        jobs = session.execute(select(func.count(), func.max(Job.created_at))).one()
    return documents[0], jobs[0], documents[1], jobs[1]


@pytest.fixture(scope="module")
def settled(alpha: httpx.Client) -> None:
    """No ingestion of this module's own running while stored rows are compared."""
    response = upload(alpha, "settled.txt", TEXT)
    if response.status_code == 202:
        assert wait_for_job(alpha, response.json()["job"]["id"])["status"] == "succeeded"


def test_corpus_covers_at_least_forty_kinds() -> None:
    assert len({case.name for case in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_refused_with_nothing_stored(
    case: Case, server: Server, alpha: httpx.Client, settled: None
) -> None:
    before = _stored(server)
    response = case.send(alpha)
    assert response.status_code == case.status, response.text
    error = response.json()["error"]
    assert error["code"] == case.code, error
    assert error["message"] and isinstance(error["details"], dict), error
    assert alpha.get("/healthz").status_code == 200
    assert alpha.get(DOC).status_code == 200
    assert _stored(server) == before


def test_metadata_at_the_depth_limit_is_stored_and_served_back(alpha: httpx.Client) -> None:
    """32 levels pass, and the document lists, reads and searches like any other."""
    deep = _nested(32, '"bottom"')
    response = upload(alpha, "deep-ok.txt", b"Metadata at the depth limit still lists fine.\n",
                      metadata=deep, collection="deep-metadata")
    assert response.status_code == 202, response.text
    assert wait_for_job(alpha, response.json()["job"]["id"])["status"] == "succeeded"
    listed = alpha.get(DOC, params={"collection": "deep-metadata"})
    assert listed.status_code == 200, listed.text
    metadata = listed.json()["items"][0]["metadata"]
    for _ in range(31):
        metadata = metadata["a"]
    assert metadata == {"a": "bottom"}
    hits = alpha.post("/v1/search", json={"query": "metadata depth limit", "mode": "text",
                                          "min_score": 0, "collection": "deep-metadata"})
    assert hits.status_code == 200, hits.text
    assert hits.json()["hits"][0]["filename"] == "deep-ok.txt"


def test_tabs_and_newlines_are_ordinary_text(alpha: httpx.Client) -> None:
    response = alpha.post("/v1/search", json={"query": "hostile\tinput\nnever", "mode": "text",
                                              "min_score": 0})
    assert response.status_code == 200, response.text
