"""Webhooks: each tenant's URL told when its jobs end, with signed, retried POSTs.

The deliveries themselves are written by `pipelines.ingestion` in the transaction that ends a
job (its `outbox`); this package is the rest of the use case.

Public API:

- `set_webhook`, `get_webhook`, `delete_webhook`, `list_deliveries`, `get_delivery`,
  `WebhookNotFound`: the tenant's webhook and its deliveries with their attempts (`config`);
- `UrlGuard`, `WebhookUrlRefused`, `refused_kind`: where a webhook may point, checked when
  it is set and before every delivery (`guard`);
- `WebhookSender`, `RetryPolicy`, `sign`, `verify`, `SIGNATURE_HEADER`, `EVENT_ID_HEADER`,
  `EVENT_HEADER`: sending due deliveries, signed and retried with backoff (`sender`).
"""

from pipelines.webhooks.config import (
    WebhookNotFound,
    delete_webhook,
    get_delivery,
    get_webhook,
    list_deliveries,
    set_webhook,
)
from pipelines.webhooks.guard import UrlGuard, WebhookUrlRefused, refused_kind
from pipelines.webhooks.sender import (
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    RetryPolicy,
    WebhookSender,
    sign,
    verify,
)

__all__ = [
    "EVENT_HEADER",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "RetryPolicy",
    "UrlGuard",
    "WebhookNotFound",
    "WebhookSender",
    "WebhookUrlRefused",
    "delete_webhook",
    "get_delivery",
    "get_webhook",
    "list_deliveries",
    "refused_kind",
    "set_webhook",
    "sign",
    "verify",
]
