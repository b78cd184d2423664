"""The webhook outbox: each tenant's webhook and the deliveries written as its jobs end.

Why here, beside the queue: a delivery row is inserted in the same transaction as the job's
final state (`queue.finish`, `queue.fail`, `cancel.cancel_job` call `enqueue_delivery`), so no
event is lost when a worker dies after committing, and none is sent for a job whose final
write rolled back. Sending is `pipelines.webhooks`' business; it sits above this package and
reads these tables through the façade.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, Text, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import Base
from pipelines.ingestion.job_table import Job

DELIVERY_STATUSES = ("pending", "delivered", "failed")
EVENTS = {"succeeded": "job.succeeded", "failed": "job.failed", "cancelled": "job.cancelled"}


class Webhook(Base):
    """A tenant's webhook: where its job events are POSTed, and the HMAC secret they are
    signed with (kept as given: the sender needs it to sign)."""

    __tablename__ = "webhooks"

    tenant_id: Mapped[str] = mapped_column(Text, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """One event for one webhook: its payload, and every attempt to POST it.

    `attempts` is a list of `{"at", "status_code", "error"}`; `next_attempt_at` is when the
    sender may try (again), also serving as a short lease while an attempt is in flight. The
    row keeps no foreign key to its job: deleting a document must not drop its events.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(Text)
    job_id: Mapped[uuid.UUID]
    event: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("status = 'pending'")),
        Index(None, "tenant_id", "created_at"),
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def job_json(job: Job) -> dict[str, Any]:
    """The job as the API's `JobOut` shows it, JSON-ready."""
    return {
        "id": str(job.id),
        "document_id": None if job.document_id is None else str(job.document_id),
        "status": job.status,
        "stage": job.stage,
        "progress": {"pages_done": job.pages_done or 0, "pages_total": job.pages_total},
        "error": job.error,
        "attempts": job.attempts or 0,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def enqueue_delivery(session: Session, *, job_id: uuid.UUID) -> WebhookDelivery | None:
    """Add the ended job's event for its tenant's webhook to `session`'s transaction (flushed,
    not committed: the caller's commit of the job's final state commits it too).

    None when the tenant has no webhook or the job has not ended.
    """
    job = session.scalar(select(Job).where(Job.id == job_id)
                         .execution_options(populate_existing=True))
    if job is None or job.status not in EVENTS:
        return None
    hook = session.get(Webhook, job.tenant_id)
    if hook is None:
        return None
    delivery = WebhookDelivery(id=uuid.uuid4(), tenant_id=job.tenant_id, job_id=job.id,
                               event=EVENTS[job.status], url=hook.url, status="pending",
                               attempt_count=0, attempts=[])
    delivery.payload = {
        "id": str(delivery.id),
        "event": delivery.event,
        "tenant": job.tenant_id,
        "document_id": None if job.document_id is None else str(job.document_id),
        "job": job_json(job),
    }
    session.add(delivery)
    session.flush()
    return delivery
