"""`/v1/webhook`: the tenant's webhook (set, shown without its secret, removed) and its
deliveries with every attempt.

Set one and lectern POSTs `job.succeeded`, `job.failed` and `job.cancelled` events to it,
signed with the secret (`X-Lectern-Signature: sha256=<hex HMAC-SHA256 of the body>`) and
retried with backoff while the receiver fails; see `pipelines.webhooks`. A URL whose host
resolves to a loopback, link-local, private or otherwise internal address is refused (422
`webhook_url_refused`) unless `LECTERN_WEBHOOK_ALLOW_PRIVATE` or `LECTERN_WEBHOOK_ALLOWED_HOSTS`
allows it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from app.deps import ContainerDep, Limit, Offset, SessionDep, TenantDep
from app.fields import Text
from app.schemas import Listing, listing
from pipelines import webhooks
from pipelines.ingestion import DELIVERY_STATUSES, Webhook, WebhookDelivery

router = APIRouter(prefix="/v1/webhook", tags=["webhooks"])


class WebhookIn(BaseModel):
    """Where to POST the tenant's job events, and the secret that signs them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://hooks.example.com/lectern", "secret": "a-long-random-secret"}]})
    url: AnyHttpUrl = Field(description="an http or https URL")
    secret: Annotated[Text, Field(min_length=8, max_length=1000,
                                  description="the HMAC-SHA256 key of the signature header")]


class WebhookOut(BaseModel):
    """The tenant's webhook, without its secret."""

    url: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Webhook) -> WebhookOut:
        """Build from a `Webhook` row."""
        return cls(url=row.url, created_at=row.created_at, updated_at=row.updated_at)


class Attempt(BaseModel):
    """One POST of a delivery: when, and the status code or the error."""

    at: datetime
    status_code: int | None
    error: str | None


class DeliveryOut(BaseModel):
    """One event for the webhook: `status` is pending, delivered or failed (out of attempts,
    or its webhook was removed)."""

    id: uuid.UUID
    job_id: uuid.UUID
    event: str
    url: str
    status: str
    payload: dict[str, Any]
    attempts: list[Attempt]
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryOut:
        """Build from a `WebhookDelivery` row."""
        return cls(id=row.id, job_id=row.job_id, event=row.event, url=row.url,
                   status=row.status, payload=row.payload,
                   attempts=[Attempt.model_validate(a) for a in row.attempts],
                   next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
                   created_at=row.created_at, delivered_at=row.delivered_at)


@router.put("")
def put_webhook(body: WebhookIn, session: SessionDep, tenant: TenantDep,
                container: ContainerDep) -> WebhookOut:
    """Set (or replace) the tenant's webhook; 422 `webhook_url_refused` for a URL that points
    at an internal address (see `LECTERN_WEBHOOK_ALLOW_PRIVATE`)."""
    guard = container.settings.webhook.url_guard()
    return WebhookOut.of(webhooks.set_webhook(session, tenant=tenant, url=str(body.url),
                                              secret=body.secret, guard=guard))


@router.get("")
def get_webhook(session: SessionDep, tenant: TenantDep) -> WebhookOut:
    """The tenant's webhook without its secret (404 `webhook_not_found` when none is set)."""
    return WebhookOut.of(webhooks.get_webhook(session, tenant=tenant))


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(session: SessionDep, tenant: TenantDep) -> None:
    """Remove the tenant's webhook; its pending deliveries are not sent."""
    webhooks.delete_webhook(session, tenant=tenant)


@router.get("/deliveries")
def list_deliveries(
    session: SessionDep,
    tenant: TenantDep,
    job_id: uuid.UUID | None = None,
    status: str | None = Query(default=None, pattern=f"^({'|'.join(DELIVERY_STATUSES)})$"),
    limit: Limit = 50,
    offset: Offset = 0,
) -> Listing[DeliveryOut]:
    """The tenant's deliveries with their attempts, newest first, optionally of one job or
    status."""
    found = webhooks.list_deliveries(session, tenant=tenant, job_id=job_id, status=status,
                                     limit=limit, offset=offset)
    return listing(found, DeliveryOut.of, limit=limit, offset=offset)


@router.get("/deliveries/{delivery_id}")
def get_delivery(delivery_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> DeliveryOut:
    """One of the tenant's deliveries with its attempts."""
    return DeliveryOut.of(webhooks.get_delivery(session, tenant=tenant, delivery_id=delivery_id))
