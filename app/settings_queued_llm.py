"""Queued LLM work's settings (`LECTERN_QUEUED_LLM_*`), a group of `app.settings.Settings`.

Why a group: batch extraction jobs and OCR cleanup run in the background, so when no provider
is healthy they wait for one (with `core.Backoff`) instead of failing as an interactive
answer does; how long they wait, and how fast they retry, is the operator's choice. Kept in a
module of its own so that `app.settings` stays small; the defaults are `pipelines.ingestion`'s
`ProviderWait`, written once.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.ingestion import ProviderWait

_DEFAULTS = ProviderWait()


class QueuedLLMSettings(BaseSettings):
    """Extraction jobs: worker threads per process, the longest total wait for a provider
    before a job fails, the first and the longest pause between retries. OCR cleanup: the
    longest one outage may stall ingestion (0 = skip cleanup at once, as before)."""

    model_config = SettingsConfigDict(
        env_prefix="LECTERN_QUEUED_LLM_", extra="ignore", validate_default=True,
        populate_by_name=True)

    extract_workers: int = Field(default=1, ge=0, le=16)
    extract_max_wait_seconds: float = Field(default=_DEFAULTS.max_wait_s, ge=0)
    retry_initial_seconds: float = Field(default=_DEFAULTS.initial_s, gt=0)
    retry_cap_seconds: float = Field(default=_DEFAULTS.cap_s, gt=0)
    cleanup_max_wait_seconds: float = Field(default=10.0, ge=0)

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets `field` (as `app.settings` names them)."""
        return "LECTERN_QUEUED_LLM_" + field.upper()

    def extract_wait(self) -> ProviderWait:
        """How an extraction job waits for a provider."""
        cap = max(self.retry_cap_seconds, self.retry_initial_seconds)
        return ProviderWait(max_wait_s=self.extract_max_wait_seconds,
                            initial_s=self.retry_initial_seconds, cap_s=cap)

    def cleanup_wait(self) -> ProviderWait:
        """How OCR cleanup waits for a provider during one outage."""
        cap = max(self.retry_cap_seconds, self.retry_initial_seconds)
        return ProviderWait(max_wait_s=self.cleanup_max_wait_seconds,
                            initial_s=min(self.retry_initial_seconds, cap), cap_s=cap)
