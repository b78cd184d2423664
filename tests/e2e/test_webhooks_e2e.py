"""Webhooks end to end: a real server over a socket, its own sender thread, a real receiver.

A server of this module's own (its own database, so the session server's sender never sees
its deliveries) runs with `LECTERN_WEBHOOK_ALLOW_PRIVATE=true` and a short interval, as a
self-hosted team delivering to an internal host would: the webhook is set over HTTP to a
receiver on 127.0.0.1, a document is uploaded, and the receiver gets `job.succeeded` signed
with the secret (the HMAC checked here as a receiver would), which
`GET /v1/webhook/deliveries` then shows as delivered with its attempt. The session server runs
with the default settings, and refuses webhooks to the metadata address and to localhost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from app.auth import create_key
from app.container import build_container
from app.db.engine import drop_database, ensure_database
from app.main import create_app
from app.serving.ingestion_threads import start_inprocess
from app.settings import Settings, WorkerSettings
from app.settings_webhooks import WebhookSettings
from ingest.embedding import SentenceTransformerEmbedder
from tests.support.api import upload, wait_for_job
from tests.support.database import database_on
from tests.support.sockets import loopback_socket
from tests.support.webhook_receiver import Receiver

SECRET = "a-long-random-secret-for-e2e"


@pytest.fixture(scope="module")
def internal_server(database_server_url: str, migrated_template: str,
                    embedder: SentenceTransformerEmbedder) -> Iterator[httpx.Client]:
    """A real server allowing private webhook receivers; a client with tenant alpha's key."""
    name = f"lectern_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    ensure_database(database_server_url, name, template=migrated_template)
    settings = Settings(workers=WorkerSettings(concurrency=1),
                        webhook=WebhookSettings(allow_private=True, interval_seconds=0.2,
                                                max_attempts=3, timeout_seconds=5))
    container = build_container(settings, database_url=database_on(database_server_url, name),
                                with_ocr=False, embedder=embedder)
    workers = start_inprocess(container, name="webhook-e2e")
    server = uvicorn.Server(uvicorn.Config(create_app(container), log_config=None,
                                           access_log=False, lifespan="off"))
    sock = loopback_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        with container.session_factory() as session:
            key = create_key(session, "alpha", "webhook-e2e")
        with httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=30,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)
        workers.stop()
        container.close()
        drop_database(database_server_url, name)


def test_an_upload_is_announced_signed_to_the_receiver(internal_server: httpx.Client) -> None:
    client = internal_server
    with Receiver() as receiver:
        put = client.put("/v1/webhook", json={"url": receiver.url, "secret": SECRET})
        assert put.status_code == 200, put.text
        response = upload(client, "note.md", b"# Dock notice\n\nDock 4 reopens on Monday.\n")
        assert response.status_code == 202, response.text
        job = wait_for_job(client, response.json()["job"]["id"])
        assert job["status"] == "succeeded", job
        deadline = time.monotonic() + 20
        while not receiver.received:
            assert time.monotonic() < deadline, "the sender never delivered"
            time.sleep(0.05)
    [request] = receiver.received
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-lectern-signature"], expected)
    body = json.loads(request.body)
    assert body["event"] == "job.succeeded" == request.headers["x-lectern-event"]
    assert body["job"]["id"] == job["id"] and body["tenant"] == "alpha"
    assert request.headers["x-lectern-event-id"] == body["id"]
    deliveries = client.get("/v1/webhook/deliveries", params={"job_id": job["id"]}).json()
    [delivery] = deliveries["items"]
    assert delivery["status"] == "delivered" and delivery["id"] == body["id"]
    assert [(a["status_code"], a["error"]) for a in delivery["attempts"]] == [(200, None)]


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/",
                                 "http://localhost/", "http://[::ffff:127.0.0.1]:8080/"])
def test_an_internal_url_is_refused_without_the_allow_setting(alpha: httpx.Client,
                                                              url: str) -> None:
    response = alpha.put("/v1/webhook", json={"url": url, "secret": SECRET})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "webhook_url_refused"
    assert alpha.get("/v1/webhook").json()["error"]["code"] == "webhook_not_found"
