"""`/v1/webhook` over HTTP: set, shown without its secret, replaced, removed; deliveries
listed with their attempts; internal URLs refused unless `LECTERN_WEBHOOK_ALLOW_PRIVATE`.

The receiver runs on 127.0.0.1 and the example hosts do not resolve, so the tests that set
them run with `allow_private` (the `open_webhooks` fixture)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.container import Container
from app.settings_webhooks import WebhookSettings
from pipelines.ingestion import Worker
from pipelines.webhooks import WebhookSender
from tests.support.api import upload
from tests.support.webhook_receiver import Receiver


@pytest.fixture
def open_webhooks(container: Container) -> None:
    """The container's settings with LECTERN_WEBHOOK_ALLOW_PRIVATE=true."""
    container.settings = container.settings.model_copy(
        update={"webhook": WebhookSettings(allow_private=True)})


@pytest.mark.usefixtures("open_webhooks")
def test_the_webhook_is_set_shown_replaced_and_removed(client: TestClient) -> None:
    assert client.get("/v1/webhook").json()["error"]["code"] == "webhook_not_found"
    put = client.put("/v1/webhook", json={"url": "https://example.test/a", "secret": "k" * 16})
    assert put.status_code == 200 and put.json()["url"] == "https://example.test/a"
    assert "secret" not in put.json()
    client.put("/v1/webhook", json={"url": "https://example.test/b", "secret": "k" * 16})
    shown = client.get("/v1/webhook").json()
    assert shown["url"] == "https://example.test/b" and "secret" not in shown
    assert client.put("/v1/webhook", json={"url": "ftp://x", "secret": "k" * 16}
                      ).status_code == 422
    assert client.put("/v1/webhook", json={"url": "https://x.test", "secret": "short"}
                      ).status_code == 422
    assert client.delete("/v1/webhook").status_code == 204
    assert client.get("/v1/webhook").status_code == 404
    assert client.delete("/v1/webhook").status_code == 404


@pytest.mark.usefixtures("open_webhooks")
def test_deliveries_are_listed_with_their_attempts(client: TestClient,
                                                   container: Container) -> None:
    with Receiver(500) as receiver:
        client.put("/v1/webhook", json={"url": receiver.url, "secret": "k" * 16})
        job = upload(client, "note.md", b"# Note\n\nA short note about webhooks.\n").json()["job"]
        assert Worker(container.session_factory, container.ingest_context()).run_once()
        sender = WebhookSender(container.session_factory,
                               guard=container.settings.webhook.url_guard())
        assert sender.send_due() == 1  # 500: retried after the policy's first delay
        sender.close()
    listed = client.get("/v1/webhook/deliveries").json()
    assert listed["total"] == 1
    [delivery] = listed["items"]
    assert delivery["event"] == "job.succeeded" and delivery["job_id"] == job["id"]
    assert delivery["status"] == "pending" and delivery["next_attempt_at"]
    assert [(a["status_code"], a["error"]) for a in delivery["attempts"]] == [(500, "HTTP 500")]
    one = client.get(f"/v1/webhook/deliveries/{delivery['id']}").json()
    assert one["id"] == delivery["id"] and one["payload"]["job"]["id"] == job["id"]
    assert client.get("/v1/webhook/deliveries", params={"status": "delivered"}).json()[
        "total"] == 0


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/",
                                 "http://localhost/", "http://127.0.0.1:8080/hook",
                                 "http://10.0.0.8/", "http://[::1]/"])
def test_an_internal_url_is_refused_by_default(client: TestClient, url: str) -> None:
    response = client.put("/v1/webhook", json={"url": url, "secret": "k" * 16})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "webhook_url_refused" and error["details"]["reason"]
    assert "LECTERN_WEBHOOK_ALLOW_PRIVATE" in error["message"]
    assert client.get("/v1/webhook").status_code == 404
