"""The drift check's settings (`LECTERN_DRIFT_*`), a group of `app.settings.Settings`.

Kept in a module of its own so that `app.settings` stays small; it reads its variables the
way every other group does (prefix + the field's name in capitals). The defaults are those of
`pipelines.llm.DriftBounds`, written once.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.llm import DriftBounds

_DEFAULTS = DriftBounds()


class DriftSettings(BaseSettings):
    """How `GET /v1/alerts` compares the ledger's recent window with its baseline: the two
    windows (seconds), the calls each window needs before a group may signal, and the bounds
    (rates in absolute points, the output-token mean as a fraction of the baseline's)."""

    model_config = SettingsConfigDict(
        env_prefix="LECTERN_DRIFT_", extra="ignore", validate_default=True, populate_by_name=True
    )

    recent_seconds: float = Field(default=_DEFAULTS.recent_s, gt=0)
    baseline_seconds: float = Field(default=_DEFAULTS.baseline_s, gt=0)
    min_calls: int = Field(default=_DEFAULTS.min_calls, gt=0)
    fallback_rate: float = Field(default=_DEFAULTS.fallback_rate, ge=0, le=1)
    error_rate: float = Field(default=_DEFAULTS.error_rate, ge=0, le=1)
    cache_hit_rate: float = Field(default=_DEFAULTS.cache_hit_rate, ge=0, le=1)
    output_tokens: float = Field(default=_DEFAULTS.output_tokens, gt=0)

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets `field` (as `app.settings` names them)."""
        return "LECTERN_DRIFT_" + field.upper()

    def bounds(self) -> DriftBounds:
        """These settings as the check's bounds."""
        return DriftBounds(
            recent_s=self.recent_seconds, baseline_s=self.baseline_seconds,
            min_calls=self.min_calls, fallback_rate=self.fallback_rate,
            error_rate=self.error_rate, cache_hit_rate=self.cache_hit_rate,
            output_tokens=self.output_tokens)
