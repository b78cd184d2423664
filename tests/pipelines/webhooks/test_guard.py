"""The SSRF guard: which webhook URLs lectern calls, judged on the addresses their host
resolves to (a scripted resolver stands in for DNS where a name must resolve to a chosen
address; literal addresses go through the real `socket.getaddrinfo`), when the URL is set
and again at delivery, where a refused URL is a failed attempt with the reason."""

from __future__ import annotations

import pytest

from ingest.pipeline import IngestContext
from pipelines import webhooks
from pipelines.ingestion import Worker
from pipelines.webhooks import RetryPolicy, UrlGuard, WebhookSender, WebhookUrlRefused
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import QueueDb
from tests.support.webhook_receiver import Receiver

STRICT = UrlGuard()


@pytest.mark.parametrize(("url", "reason"), [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://localhost/hook", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("https://192.168.0.10/", "private"),
    ("http://172.16.5.5/", "private"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
    ("http://[fe80::1]/", "link-local"),
    ("http://100.64.0.1/", "non-global"),  # carrier-grade NAT
    ("ftp://example.org/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("http://no-such-host.invalid/", "unresolvable"),
])
def test_internal_or_unusable_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        STRICT.check(url)
    assert refused.value.code == "webhook_url_refused" and refused.value.http_status == 422
    assert refused.value.details["reason"] == reason


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    def dns(answers: list[str]) -> UrlGuard:
        return UrlGuard(resolver=lambda host, port: answers)

    checked = dns(["93.184.215.14"]).check("https://hooks.example.org:8443/x")
    assert (checked.host, checked.port, checked.address) == ("hooks.example.org", 8443,
                                                             "93.184.215.14")
    with pytest.raises(WebhookUrlRefused):  # one internal answer among public ones is enough
        dns(["93.184.215.14", "10.0.0.7"]).check("https://hooks.example.org/")


def test_allow_private_and_the_allow_list_let_internal_receivers_through() -> None:
    assert UrlGuard(allow_private=True).check("http://127.0.0.1:9/h").address is None
    listed = UrlGuard(allowed=("10.20.0.0/16", "hooks.internal"),
                      resolver=lambda host, port: ["10.20.3.4"])
    assert listed.check("http://ci.corp/h").address == "10.20.3.4"  # in a listed network
    assert listed.check("http://hooks.internal/h").address is None  # listed by name
    with pytest.raises(WebhookUrlRefused):
        UrlGuard(allowed=("10.20.0.0/16",)).check("http://127.0.0.1/h")


def test_set_webhook_refuses_an_internal_url_and_keeps_none(db: QueueDb) -> None:
    with db.sessions() as session, pytest.raises(WebhookUrlRefused):
        webhooks.set_webhook(session, tenant="acme", url="http://169.254.169.254/",
                             secret="s3cret-for-tests")
    with db.sessions() as session, pytest.raises(webhooks.WebhookNotFound):
        webhooks.get_webhook(session, tenant="acme")


def test_a_url_that_now_resolves_inside_is_refused_at_delivery(db: QueueDb) -> None:
    """Set while its name resolved to a public address; by the time of sending the name
    resolves to loopback (DNS rebinding): the attempt is refused, recorded, never sent."""
    answers = ["93.184.215.14"]
    guard = UrlGuard(resolver=lambda host, port: answers)
    with Receiver() as receiver:
        url = receiver.url.replace("127.0.0.1", "hooks.example.org")
        with db.sessions() as session:
            webhooks.set_webhook(session, tenant="acme", url=url, secret="s3cret-for-tests",
                                 guard=guard)
        db.submit()
        assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
        answers[:] = ["127.0.0.1"]
        sender = WebhookSender(db.sessions, guard=guard, policy=RetryPolicy(max_attempts=1))
        assert sender.send_due() == 1
        sender.close()
    assert receiver.received == []
    with db.sessions() as session:
        [delivery] = webhooks.list_deliveries(session, tenant="acme").rows
    assert delivery.status == "failed"
    [attempt] = delivery.attempts
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("refused: ") and "loopback" in attempt["error"]


def test_the_sender_connects_to_the_address_it_checked(db: QueueDb) -> None:
    """A name allowed through the allow-list by network is sent to the checked address with
    its own name in the Host header (here: a name no DNS knows, pinned to 127.0.0.1)."""
    guard = UrlGuard(allowed=("127.0.0.0/8",), resolver=lambda host, port: ["127.0.0.1"])
    with Receiver() as receiver:
        url = receiver.url.replace("127.0.0.1", "receiver.lectern-test")
        with db.sessions() as session:
            webhooks.set_webhook(session, tenant="acme", url=url, secret="s3cret-for-tests",
                                 guard=guard)
        db.submit()
        assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
        sender = WebhookSender(db.sessions, guard=guard, policy=RetryPolicy(max_attempts=1))
        assert sender.send_due() == 1
        sender.close()
    [request] = receiver.received
    assert request.headers["host"].startswith("receiver.lectern-test:")
