"""Talking to a real lectern server in tests: the running server's handle, uploads, listings,
waiting for a job, and the upload limits the test apps are built with."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.container import Container

UPLOAD_LIMIT = 64 * 1024
"""The in-process app tests' upload limit: over-size requests are cheap to make."""
E2E_UPLOAD_LIMIT = 2 * 1024 * 1024
"""Big enough for every sample (the scan is ~0.7 MB), small enough to exceed cheaply."""


@dataclass
class Server:
    """The running server: its base URL, container, and the tenants' keys."""

    url: str
    container: Container
    keys: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)


def upload(client: httpx.Client, name: str, data: bytes, **form: str) -> httpx.Response:
    """`POST /v1/documents` with `data` as the file `name` and any other form fields."""
    return client.post("/v1/documents", files={"file": (name, data)}, data=form)


def items(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    """The `items` of a listing endpoint (up to 1000; the query `path` carries is kept),
    asserting it answered 200."""
    response = client.get(path, params=httpx.URL(path).params.merge({"limit": 1000}))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def wait_for_job(client: httpx.Client, job_id: str, timeout_s: float = 300.0) -> dict[str, Any]:
    """Poll `GET /v1/jobs/{id}` until it ends (succeeded, failed, cancelled); return its body.

    Also checks, on the way, that progress never goes backwards within a stage's page count.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        progress = job["progress"]
        if progress["pages_total"] is not None:
            assert 0 <= progress["pages_done"] <= progress["pages_total"], job
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout_s}s: {job}")
        time.sleep(0.2)
