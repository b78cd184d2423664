"""Webhook deliveries against a receiver on 127.0.0.1: written with the job's final state,
signed, retried with backoff, and recorded attempt by attempt. The receiver is on loopback,
so these tests use a guard that allows private addresses (`OPEN`)."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from ingest.pipeline import IngestContext
from pipelines import ingestion, webhooks
from pipelines.ingestion import WebhookDelivery, Worker
from pipelines.webhooks import RetryPolicy, UrlGuard, WebhookSender
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import QueueDb
from tests.support.webhook_receiver import Receiver

SECRET = "s3cret-for-tests"
FAST = RetryPolicy(max_attempts=5, initial_s=0.05, cap_s=0.2, jitter=0.0)
OPEN = UrlGuard(allow_private=True)


def _hook(db: QueueDb, url: str, tenant: str = "acme") -> None:
    with db.sessions() as session:
        webhooks.set_webhook(session, tenant=tenant, url=url, secret=SECRET, guard=OPEN)


def _deliveries(db: QueueDb, tenant: str = "acme") -> list[WebhookDelivery]:
    with db.sessions() as session:
        return list(webhooks.list_deliveries(session, tenant=tenant).rows)


def _send_until_settled(sender: WebhookSender, db: QueueDb, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while any(d.status == "pending" for d in _deliveries(db)):
        assert time.monotonic() < deadline, "deliveries still pending"
        sender.send_due()
        time.sleep(0.02)


def test_a_succeeded_job_is_delivered_once_and_signed(db: QueueDb) -> None:
    with Receiver() as receiver:
        _hook(db, receiver.url)
        job = db.submit()
        assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
        sender = WebhookSender(db.sessions, guard=OPEN, policy=FAST)
        assert sender.send_due() == 1
        assert sender.send_due() == 0  # delivered: never sent again
        sender.close()
    [request] = receiver.received
    assert webhooks.verify(request.body, SECRET, request.headers["x-lectern-signature"])
    assert request.headers["x-lectern-signature"].startswith("sha256=")
    assert not webhooks.verify(request.body, "another secret", request.headers[
        "x-lectern-signature"])
    body = json.loads(request.body)
    assert body["event"] == "job.succeeded" == request.headers["x-lectern-event"]
    assert body["job"]["id"] == str(job.id) and body["job"]["status"] == "succeeded"
    assert body["document_id"] == str(job.document_id) and body["delivered_at"]
    assert body["job"]["finished_at"] is not None
    [delivery] = _deliveries(db)
    assert request.headers["x-lectern-event-id"] == str(delivery.id) == body["id"]
    assert delivery.status == "delivered" and delivery.delivered_at is not None
    assert [a["status_code"] for a in delivery.attempts] == [200]


def test_a_failing_receiver_gets_retried_and_every_attempt_is_recorded(db: QueueDb) -> None:
    with Receiver(500, 500) as receiver:
        _hook(db, receiver.url)
        db.submit()
        assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
        sender = WebhookSender(db.sessions, guard=OPEN, policy=FAST)
        _send_until_settled(sender, db)
        sender.close()
    [delivery] = _deliveries(db)
    assert delivery.status == "delivered" and delivery.attempt_count == 3
    assert [a["status_code"] for a in delivery.attempts] == [500, 500, 200]
    assert [a["error"] for a in delivery.attempts] == ["HTTP 500", "HTTP 500", None]
    assert len(receiver.received) == 3
    assert {r.headers["x-lectern-event-id"] for r in receiver.received} == {str(delivery.id)}
    for request in receiver.received:  # each attempt signed over its own body
        assert webhooks.verify(request.body, SECRET, request.headers["x-lectern-signature"])


def test_a_receiver_that_keeps_failing_exhausts_the_attempts(db: QueueDb) -> None:
    with Receiver(*[503] * 10) as receiver:
        _hook(db, receiver.url)
        db.submit()
        assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
        sender = WebhookSender(db.sessions, guard=OPEN,
                               policy=RetryPolicy(max_attempts=2, initial_s=0.05,
                                                  cap_s=0.05, jitter=0.0))
        _send_until_settled(sender, db)
        sender.close()
    [delivery] = _deliveries(db)
    assert delivery.status == "failed" and len(receiver.received) == 2
    assert [a["status_code"] for a in delivery.attempts] == [503, 503]


def test_an_unreachable_receiver_records_the_error(db: QueueDb) -> None:
    with Receiver() as receiver:
        url = receiver.url
    _hook(db, url)  # nothing listens there any more
    job = db.submit()
    with db.sessions() as session:
        ingestion.cancel_job(session, tenant="acme", job_id=job.id)
    sender = WebhookSender(db.sessions, guard=OPEN, policy=RetryPolicy(max_attempts=1),
                           timeout_s=2.0)
    assert sender.send_due() == 1
    sender.close()
    [delivery] = _deliveries(db)
    assert delivery.event == "job.cancelled" and delivery.status == "failed"
    [attempt] = delivery.attempts
    assert attempt["status_code"] is None and "ConnectError" in attempt["error"]


def test_a_tenant_without_a_webhook_gets_nothing(db: QueueDb) -> None:
    with Receiver() as receiver:
        _hook(db, receiver.url, tenant="acme")
        job = db.submit(tenant="other")
        assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
        assert db.job(job.id).status == "succeeded"
        assert WebhookSender(db.sessions, guard=OPEN, policy=FAST).send_due() == 0
    assert receiver.received == []
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_a_failed_job_is_announced_with_its_error(db: QueueDb) -> None:
    _hook(db, "http://127.0.0.1:9/unused")
    job = db.submit(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> truncated")
    assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
    [delivery] = _deliveries(db)
    assert delivery.event == "job.failed" and delivery.job_id == job.id
    assert delivery.payload["job"]["error"]["code"] == "corrupt_document"
    assert delivery.status == "pending" and delivery.attempts == []
