"""A tenant's webhook (set, shown, removed) and the listing of its deliveries.

One webhook per tenant: setting it again replaces the URL and secret (deliveries already
written keep the URL they were written for). The secret is never returned; removing the
webhook keeps the history of deliveries but stops those still pending. A URL is set only if
the `UrlGuard` passes it (see `guard`); the sender checks it again before every attempt.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ingest import store
from ingest.store import Counted
from pipelines.errors import PipelineError
from pipelines.ingestion import Webhook, WebhookDelivery
from pipelines.webhooks.guard import UrlGuard


class WebhookNotFound(PipelineError):
    """The tenant has no webhook."""

    code = "webhook_not_found"
    http_status = 404


def set_webhook(session: Session, *, tenant: str, url: str, secret: str,
                guard: UrlGuard | None = None) -> Webhook:
    """Create or replace the tenant's webhook; commits. Raises `WebhookUrlRefused` when
    `guard` (strict by default) refuses the URL."""
    (guard or UrlGuard()).check(url)
    hook = session.get(Webhook, tenant, with_for_update=True)
    if hook is None:
        hook = Webhook(tenant_id=tenant, url=url, secret=secret)
        session.add(hook)
    else:
        hook.url, hook.secret, hook.updated_at = url, secret, func.now()
    session.commit()
    session.refresh(hook)
    return hook


def get_webhook(session: Session, *, tenant: str) -> Webhook:
    """The tenant's webhook, or `WebhookNotFound`."""
    hook = session.get(Webhook, tenant)
    if hook is None:
        raise WebhookNotFound("no webhook is set")
    return hook


def delete_webhook(session: Session, *, tenant: str) -> None:
    """Remove the tenant's webhook and fail its pending deliveries; commits, or raises
    `WebhookNotFound`."""
    hook = session.get(Webhook, tenant, with_for_update=True)
    if hook is None:
        session.rollback()
        raise WebhookNotFound("no webhook is set")
    session.delete(hook)
    session.execute(update(WebhookDelivery)
                    .where(WebhookDelivery.tenant_id == tenant,
                           WebhookDelivery.status == "pending")
                    .values(status="failed"))
    session.commit()


def list_deliveries(
    session: Session,
    *,
    tenant: str,
    status: str | None = None,
    job_id: uuid.UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Counted[WebhookDelivery]:
    """A page of the tenant's deliveries with their attempts, newest first, optionally of one
    status or job, and their total."""
    return store.list_newest(session, WebhookDelivery, tenant=tenant,
                             equal={"status": status, "job_id": job_id},
                             limit=limit, offset=offset)


def get_delivery(session: Session, *, tenant: str, delivery_id: uuid.UUID) -> WebhookDelivery:
    """One of the tenant's deliveries, or `WebhookNotFound` (for one of another tenant too)."""
    row = session.scalar(select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.tenant_id == tenant))
    if row is None:
        raise WebhookNotFound("no such delivery", delivery_id=str(delivery_id))
    return row
