"""Sending webhook deliveries: signed POSTs, retried with capped exponential backoff.

`WebhookSender.send_due()` claims the deliveries that are due (`FOR UPDATE SKIP LOCKED`, so
several senders never take the same one, and a short lease so the POST happens outside any
transaction), POSTs each to its URL and records the attempt: the status code or the error,
and when. A 2xx answer delivers it; anything else (an error, a timeout, a redirect, a 4xx
or 5xx) is tried again after the `RetryPolicy`'s delay, until its last attempt fails it.

The body is the stored payload with `delivered_at` (this attempt's time) added, as compact
JSON; `X-Lectern-Signature: sha256=<hex>` is the HMAC-SHA256 of those exact bytes with the
webhook's current secret, `X-Lectern-Event-Id` the delivery id (the same on every attempt, for
the receiver to drop duplicates) and `X-Lectern-Event` the event's name.

Before each attempt the URL goes through the `UrlGuard` again (DNS may have changed since it
was set): a refused URL is a failed attempt whose error is `refused: ` and the reason, retried
like any other failure; an allowed one is connected to at the address the guard checked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import Backoff
from pipelines.ingestion import Webhook, WebhookDelivery
from pipelines.webhooks.guard import Checked, UrlGuard, WebhookUrlRefused

SIGNATURE_HEADER = "X-Lectern-Signature"
EVENT_ID_HEADER = "X-Lectern-Event-Id"
EVENT_HEADER = "X-Lectern-Event"


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for `body`: `sha256=` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    """Whether `signature` is `body`'s, compared in constant time (what a receiver does)."""
    return hmac.compare_digest(sign(body, secret), signature)


@dataclass(frozen=True)
class RetryPolicy:
    """At most `max_attempts` POSTs per delivery; the n-th failure waits `core.Backoff`'s
    n-th delay (doubling from `initial_s` up to `cap_s`, with `jitter`)."""

    max_attempts: int = 8
    initial_s: float = 1.0
    cap_s: float = 300.0
    jitter: float = 0.2

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failed attempt."""
        backoff = Backoff(self.initial_s, self.cap_s, jitter=self.jitter)
        for _ in range(failures - 1):
            backoff.next()
        return backoff.next()


@dataclass(frozen=True)
class _Due:
    id: uuid.UUID
    url: str
    event: str
    payload: dict[str, Any]
    secret: str


class WebhookSender:
    """Sends the due deliveries of every tenant; `send_due` is the task of a `Periodic`.

    `guard` decides where it may send (the strict default refuses internal addresses);
    `timeout_s` bounds each POST."""

    def __init__(self, sessions: sessionmaker[Session], *, policy: RetryPolicy | None = None,
                 guard: UrlGuard | None = None, client: httpx.Client | None = None,
                 batch: int = 20, timeout_s: float = 10.0) -> None:
        self._sessions = sessions
        self.policy = policy or RetryPolicy()
        self.guard = guard or UrlGuard()
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._batch = batch
        self._lease = timedelta(seconds=timeout_s * 3 + 5)

    def send_due(self) -> int:
        """POST every delivery that is due (up to the batch size); return how many were
        tried."""
        due = self._claim()
        for delivery in due:
            self._send(delivery)
        return len(due)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def _claim(self) -> list[_Due]:
        now = datetime.now(UTC)
        with self._sessions() as session:
            rows = session.execute(
                select(WebhookDelivery, Webhook.secret)
                .join(Webhook, Webhook.tenant_id == WebhookDelivery.tenant_id)
                .where(WebhookDelivery.status == "pending",
                       WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(self._batch)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            ).all()
            due = []
            for row, secret in rows:
                row.next_attempt_at = now + self._lease  # held while this attempt is in flight
                due.append(_Due(row.id, row.url, row.event, dict(row.payload), secret))
            session.commit()
        return due

    def _send(self, delivery: _Due) -> None:
        at = datetime.now(UTC)
        body = json.dumps({**delivery.payload, "delivered_at": at.isoformat()},
                          separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json",
                   SIGNATURE_HEADER: sign(body, delivery.secret),
                   EVENT_ID_HEADER: str(delivery.id), EVENT_HEADER: delivery.event,
                   "User-Agent": "lectern-webhooks"}
        attempt: dict[str, Any] = {"at": at.isoformat(), "status_code": None, "error": None}
        try:
            checked = self.guard.check(delivery.url)
        except WebhookUrlRefused as exc:
            attempt["error"] = f"refused: {exc.message}"[:500]
            self._record(delivery.id, attempt, False)
            return
        try:
            response = self._client.post(_pinned(checked), content=body,
                                         headers={**headers, **_host_header(checked)},
                                         extensions=_tls_name(checked))
            attempt["status_code"] = response.status_code
            ok = response.is_success
            if not ok:
                attempt["error"] = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            attempt["error"] = f"{type(exc).__name__}: {exc}"[:500]
            ok = False
        self._record(delivery.id, attempt, ok)

    def _record(self, delivery_id: uuid.UUID, attempt: dict[str, Any], ok: bool) -> None:
        with self._sessions() as session:
            row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if row is None or row.status != "pending":  # its webhook was removed meanwhile
                session.rollback()
                return
            row.attempts = [*row.attempts, attempt]
            row.attempt_count += 1
            now = datetime.now(UTC)
            if ok:
                row.status, row.delivered_at = "delivered", now
            elif row.attempt_count >= self.policy.max_attempts:
                row.status = "failed"
            else:
                row.next_attempt_at = now + timedelta(
                    seconds=self.policy.delay(row.attempt_count))
            session.commit()


def _pinned(checked: Checked) -> httpx.URL:
    """The URL with its host replaced by the address the guard checked (if it checked one)."""
    url = httpx.URL(checked.url)
    return url if checked.address is None else url.copy_with(host=checked.address)


def _host_header(checked: Checked) -> dict[str, str]:
    """The `Host` header naming the URL's own host when the connection goes to its address."""
    if checked.address is None:
        return {}
    return {"Host": httpx.URL(checked.url).netloc.decode("ascii")}


def _tls_name(checked: Checked) -> dict[str, Any]:
    """For https to a pinned address: the host name TLS must present and verify (SNI)."""
    if checked.address is None or httpx.URL(checked.url).scheme != "https":
        return {}
    return {"sni_hostname": checked.host}
