"""`Lectern`: a typed Python client of lectern's HTTP API, the one the CLI's commands use.

    from app.client import Lectern

    with Lectern.from_env() as lectern:           # LECTERN_URL, LECTERN_API_KEY
        job = lectern.upload("report.pdf", collection="finance")["job"]
        lectern.wait(job["id"])
        for event in lectern.ask("What was revenue in 2023?"):
            if event.name == "token":
                print(event.data["text"], end="")

It speaks the same API `curl` does (so it works against a remote lectern), needs only httpx and
httpx-sse, and imports nothing of the server. Every non-2xx answer raises `ClientError` with
lectern's `code`, `message`, `details` and, for 429 and 503, the `Retry-After` seconds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import httpx
from httpx_sse import connect_sse

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
JOB_ENDS = frozenset({"succeeded", "failed", "cancelled"})
Mode = Literal["hybrid", "vector", "text"]


def default_url(env: Mapping[str, str] = os.environ) -> str:
    """`LECTERN_URL`, else the address `lectern serve` listens on by the same environment
    (`LECTERN_HOST`, `LECTERN_PORT`; a wildcard host is reached on loopback)."""
    if env.get("LECTERN_URL"):
        return env["LECTERN_URL"].rstrip("/")
    host = env.get("LECTERN_HOST") or DEFAULT_HOST
    host = DEFAULT_HOST if host in ("0.0.0.0", "::") else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{env.get('LECTERN_PORT') or DEFAULT_PORT}"


@dataclass
class ClientError(Exception):
    """An answer that was not 2xx: its status and lectern's error fields (for a body not in
    lectern's shape, `code` is `http_<status>` and `message` the start of the body)."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    retry_after_s: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @classmethod
    def of(cls, response: httpx.Response) -> ClientError:
        """Read the error of `response` (its body is read first if it was streamed)."""
        response.read()
        retry = response.headers.get("Retry-After", "")
        retry_after = int(retry) if retry.isdigit() else None
        try:
            error = response.json()["error"]
            return cls(response.status_code, str(error.get("code") or error.get("type")),
                       str(error["message"]), dict(error.get("details") or {}), retry_after)
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls(response.status_code, f"http_{response.status_code}",
                       response.text[:300], {}, retry_after)


@dataclass(frozen=True)
class AskEvent:
    """One event of a streamed answer: `meta`, `sources`, `token`, `handover`, `usage`,
    `done` or `error`, with its JSON data (see `POST /v1/ask` in the OpenAPI document)."""

    name: str
    data: Any


class Lectern:
    """A synchronous client over one `httpx.Client` (connection reuse; close it, or use
    `with`). Pass `http` to reuse a client of your own (a test's, or one with a proxy); its
    base URL and headers are then used as they are."""

    def __init__(self, url: str | None = None, api_key: str | None = None, *,
                 timeout: float = 120.0, http: httpx.Client | None = None) -> None:
        self.url = url or default_url()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = http or httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self._owned = http is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, *, timeout: float = 120.0) -> Lectern:
        """A client for `default_url(env)` with the key in `LECTERN_API_KEY` (if any)."""
        return cls(default_url(env), env.get("LECTERN_API_KEY") or None, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP client, when this object made it."""
        if self._owned:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if not response.is_success:
            raise ClientError.of(response)
        return response.json() if response.content else None

    # Documents and jobs

    def upload(self, file: str | Path | bytes, *, filename: str | None = None,
               collection: str | None = None,
               metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Upload a file (a path, or bytes with `filename`); `{"document", "job"}`, where
        `job` is None when the same bytes were already there."""
        data = {k: v for k, v in (("collection", collection),
                                  ("metadata", json.dumps(metadata) if metadata else None))
                if v is not None}
        if isinstance(file, bytes):
            content, name = file, filename or "upload"
        else:
            content, name = Path(file).read_bytes(), filename or Path(file).name
        result: dict[str, Any] = self._json("POST", "/v1/documents", data=data,
                                            files={"file": (name, content)})
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        """One job: `status`, `stage`, `progress`, `error`."""
        result: dict[str, Any] = self._json("GET", f"/v1/jobs/{job_id}")
        return result

    def wait(self, job_id: str, *, timeout_s: float = 600.0,
             poll_s: float = 0.5) -> dict[str, Any]:
        """Poll a job until it ends (succeeded, failed or cancelled); the job as it ended.
        Raises `TimeoutError` when it has not ended after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if job["status"] in JOB_ENDS:
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout_s:.0f}s")
            time.sleep(poll_s)

    def document(self, document_id: str) -> dict[str, Any]:
        """One document with its status, pages and chunks counted."""
        result: dict[str, Any] = self._json("GET", f"/v1/documents/{document_id}")
        return result

    def delete_document(self, document_id: str) -> None:
        """Delete a document, its pages, chunks and file."""
        self._json("DELETE", f"/v1/documents/{document_id}")

    def documents(self, *, collection: str | None = None, status: str | None = None,
                  limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """A page of the tenant's documents: `{"items", "limit", "offset", "total"}`."""
        params = _params(collection=collection, status=status, limit=limit, offset=offset)
        result: dict[str, Any] = self._json("GET", "/v1/documents", params=params)
        return result

    def jobs(self, *, status: str | None = None, document_id: str | None = None,
             limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """A page of the tenant's jobs, newest first."""
        params = _params(status=status, document_id=document_id, limit=limit, offset=offset)
        result: dict[str, Any] = self._json("GET", "/v1/jobs", params=params)
        return result

    def collections(self) -> list[dict[str, Any]]:
        """The tenant's collections with their document and chunk counts."""
        body = self._json("GET", "/v1/collections")
        items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
        return items

    def schemas(self) -> list[dict[str, Any]]:
        """The named extraction schemas with their JSON Schemas."""
        schemas: list[dict[str, Any]] = self._json("GET", "/v1/schemas")["schemas"]
        return schemas

    # Questions and extraction

    def search(self, query: str, *, top_k: int | None = None, mode: Mode = "hybrid",
               collection: str | None = None, min_score: float | None = None,
               **filters: Any) -> dict[str, Any]:
        """Hits alone, no LLM: `{"query", "mode", "min_score", "hits"}`."""
        body = _params(query=query, top_k=top_k, mode=mode, collection=collection,
                       min_score=min_score, **filters)
        result: dict[str, Any] = self._json("POST", "/v1/search", json=body)
        return result

    def ask(self, question: str, **options: Any) -> Iterator[AskEvent]:
        """Stream an answer as `AskEvent`s until `done` or `error` (options as `POST
        /v1/ask` takes them: `top_k`, `mode`, `collection`, `history`, `conversation_id`...).
        A refusal before the stream starts (422, 402, 429, 503) raises `ClientError`."""
        body = {**_params(**options), "question": question, "stream": True}
        headers = {"Accept": "text/event-stream"}
        with connect_sse(self.http, "POST", "/v1/ask", json=body, headers=headers) as events:
            if not events.response.is_success:
                raise ClientError.of(events.response)
            for sse in events.iter_sse():
                event = AskEvent(sse.event, json.loads(sse.data) if sse.data else None)
                yield event
                if event.name in ("done", "error"):
                    return

    def answer(self, question: str, **options: Any) -> dict[str, Any]:
        """The whole answer as one object (`"stream": false`): meta, sources, answer, usage."""
        body = {**_params(**options), "question": question, "stream": False}
        result: dict[str, Any] = self._json("POST", "/v1/ask", json=body)
        return result

    def extract(self, schema: str | Mapping[str, Any], *, document_id: str | None = None,
                text: str | None = None, **options: Any) -> dict[str, Any]:
        """Extract a named schema or a JSON Schema from a ready document or from text."""
        body = _params(schema=schema, document_id=document_id, text=text, **options)
        result: dict[str, Any] = self._json("POST", "/v1/extract", json=body)
        return result

    # Answers, feedback and prompt variants

    def feedback(self, answer_id: str, rating: Literal["up", "down"], *,
                 comment: str | None = None) -> dict[str, Any]:
        """Rate an answer (its `meta`'s `answer_id`) up or down; replaces earlier feedback."""
        body = _params(rating=rating, comment=comment)
        result: dict[str, Any] = self._json("POST", f"/v1/answers/{answer_id}/feedback",
                                            json=body)
        return result

    def recorded_answer(self, answer_id: str) -> dict[str, Any]:
        """What was recorded of an answer: prompt version, model, figures, feedback."""
        result: dict[str, Any] = self._json("GET", f"/v1/answers/{answer_id}")
        return result

    def prompts(self) -> list[dict[str, Any]]:
        """Every prompt with its versions and the live variants' weights."""
        items: list[dict[str, Any]] = self._json("GET", "/v1/prompts")["prompts"]
        return items

    def prompt_report(self, name: str, *, since: str | None = None,
                      until: str | None = None) -> dict[str, Any]:
        """The comparison of prompt `name`'s versions on the tenant's answers."""
        result: dict[str, Any] = self._json("GET", f"/v1/prompts/{name}/report",
                                            params=_params(since=since, until=until))
        return result


def _params(**values: Any) -> dict[str, Any]:
    """The given values without those left None."""
    return {k: v for k, v in values.items() if v is not None}
