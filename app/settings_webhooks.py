"""The webhook sender's settings (`LECTERN_WEBHOOK_*`), a group of `app.settings.Settings`.

Kept in a module of its own so that `app.settings` stays small; it reads its variables the
way every other group does (prefix + the field's name in capitals). The retry defaults are
`pipelines.webhooks.RetryPolicy`'s, written once. The composition root turns these into the
sender's `RetryPolicy`, timeout and interval (`app.serving.ingestion_threads`) and the
`UrlGuard` that `PUT /v1/webhook` and every delivery apply.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.webhooks import RetryPolicy, UrlGuard

_DEFAULTS = RetryPolicy()


class WebhookSettings(BaseSettings):
    """How often the sender looks for due deliveries, how many POSTs a delivery gets and how
    long each may take, the backoff between them (doubling from the first delay up to the
    cap), and where webhooks may point: by default public addresses only; `allow_private`
    lets them reach any host (a self-hosted team's internal receivers), `allowed_hosts` (comma
    separated host names, addresses or CIDR networks) only those."""

    model_config = SettingsConfigDict(
        env_prefix="LECTERN_WEBHOOK_", extra="ignore", validate_default=True,
        populate_by_name=True)

    interval_seconds: float = Field(default=1.0, gt=0, le=3600)
    max_attempts: int = Field(default=_DEFAULTS.max_attempts, ge=1, le=100)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    backoff_initial_seconds: float = Field(default=_DEFAULTS.initial_s, gt=0)
    backoff_cap_seconds: float = Field(default=_DEFAULTS.cap_s, gt=0)
    allow_private: bool = False
    allowed_hosts: str = ""

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets `field` (as `app.settings` names them)."""
        return "LECTERN_WEBHOOK_" + field.upper()

    @model_validator(mode="after")
    def _cap_covers_first_delay(self) -> Self:
        if self.backoff_cap_seconds < self.backoff_initial_seconds:
            raise ValueError("LECTERN_WEBHOOK_BACKOFF_CAP_SECONDS must not be below "
                             "LECTERN_WEBHOOK_BACKOFF_INITIAL_SECONDS")
        return self

    def policy(self) -> RetryPolicy:
        """The sender's retry policy."""
        return RetryPolicy(max_attempts=self.max_attempts,
                           initial_s=self.backoff_initial_seconds,
                           cap_s=self.backoff_cap_seconds, jitter=_DEFAULTS.jitter)

    def url_guard(self) -> UrlGuard:
        """Where webhooks may point (checked when set and before every delivery)."""
        allowed = tuple(e.strip() for e in self.allowed_hosts.split(",") if e.strip())
        return UrlGuard(allow_private=self.allow_private, allowed=allowed)
