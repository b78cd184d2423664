"""Authentication settings (`LECTERN_AUTH`, `LECTERN_AUTH_CACHE_S`), a group of
`app.settings.Settings`, kept in a module of its own so that `app.settings` stays small."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AuthMode = Literal["off", "required"]


class AuthSettings(BaseSettings):
    """Whether requests need an API key (`LECTERN_AUTH`): `off`, `required`, or None (unset:
    off until the first key is created, required from then on; see `app.auth`); and how long
    a verified key is remembered per process (`LECTERN_AUTH_CACHE_S`, 0: never; see
    `app.auth_cache`: a key revoked in another process stops working within that time)."""

    model_config = SettingsConfigDict(env_prefix="LECTERN_AUTH_", extra="ignore",
                                      validate_default=True, populate_by_name=True)

    mode: AuthMode | None = Field(default=None, validation_alias="LECTERN_AUTH")
    cache_s: float = Field(default=5.0, ge=0, le=3600)

    @field_validator("mode", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets `field`."""
        return "LECTERN_AUTH" if field == "mode" else "LECTERN_AUTH_" + field.upper()
