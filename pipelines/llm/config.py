"""LLM configuration: providers, models, tiers, task policies, budgets, breaker and cache.

The configuration comes from a TOML file (`LECTERN_CONFIG`, format in docs/llm-config.md) or,
without one, from a few environment variables so that `OPENAI_API_KEY` alone gives a working
mid and premium tier. The `extractive` provider is always added as the offline default for
`answer`. Nothing here reads `os.environ`: the composition root passes the environment in.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipelines.llm.errors import ConfigError, LLMError
from pipelines.llm.protocol import ChatProvider
from pipelines.llm.types import TaskType

TASKS: tuple[TaskType, ...] = ("answer", "cleanup", "extract", "classify")
StructuredMode = Literal["json_schema", "json_object", "tools", "none"]
EXTRACTIVE_KIND = "extractive"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderConfig(_Strict):
    """How to reach one endpoint; `kind` names the adapter in the provider registry."""

    kind: str
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    api_key_env: str | None = None
    api_version: str | None = None
    model_path: str | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    optional: bool = False  # a missing api_key_env drops this provider instead of failing
    options: dict[str, Any] = Field(default_factory=dict)  # adapter-specific extras


class ModelConfig(_Strict):
    """A model as the router sees it: where it runs, what it costs, what it can hold."""

    id: str
    provider: str
    model: str = ""  # name at the provider; defaults to `id`
    tier: str
    price_in_per_mtok: float = Field(default=0.0, ge=0)
    price_out_per_mtok: float = Field(default=0.0, ge=0)
    context_tokens: int = Field(default=8192, gt=0)
    max_output_tokens: int = Field(default=4096, gt=0)
    structured: StructuredMode | None = None  # None: ask the provider's capabilities
    tasks: tuple[TaskType, ...] | None = None  # None: any task the provider can do
    priority: int = 0  # tie-break between equally cheap models, lower first

    @property
    def model_name(self) -> str:
        return self.model or self.id

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """Cost of a call at list price."""
        return (
            input_tokens * self.price_in_per_mtok + output_tokens * self.price_out_per_mtok
        ) / 1_000_000


class TaskPolicy(_Strict):
    """Which models may serve a task: at least `min_tier`; lower tiers only if `degrade`."""

    min_tier: str
    fallback: bool = True  # after a retryable failure, try the next candidate
    degrade: bool = True  # when nothing at min_tier is healthy, use a lower tier
    max_output_tokens: int = Field(default=1024, gt=0)


class BudgetConfig(_Strict):
    """Per-tenant daily spend limits in USD (None = unlimited)."""

    daily_usd: float | None = Field(default=None, ge=0)
    tenants: dict[str, float | None] = Field(default_factory=dict)
    allow_downgrade: bool = True
    stale_reservation_s: float = Field(default=600.0, gt=0)

    def limit_for(self, tenant: str) -> float | None:
        return self.tenants.get(tenant, self.daily_usd)


class BreakerConfig(_Strict):
    failures_to_open: int = Field(default=3, ge=1)
    cooldown_s: float = Field(default=30.0, gt=0)


class CacheConfig(_Strict):
    enabled: bool = True
    ttl_s: float = Field(default=86_400.0, gt=0)


class RouterConfig(_Strict):
    # After tokens were streamed: "continue" hands the partial answer to the next candidate,
    # "error" ends the stream with a StreamFailed item that keeps the partial text.
    mid_stream: Literal["continue", "error"] = "continue"


def _default_tasks() -> dict[str, TaskPolicy]:
    return {
        "answer": TaskPolicy(min_tier="mid", max_output_tokens=1024),
        "cleanup": TaskPolicy(min_tier="mid", max_output_tokens=4096),
        "extract": TaskPolicy(min_tier="mid", max_output_tokens=2048),
        "classify": TaskPolicy(min_tier="free", max_output_tokens=64),
    }


class LLMConfig(_Strict):
    """The whole LLM layer configuration, validated across sections."""

    tiers: tuple[str, ...] = ("free", "mid", "premium")
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: tuple[ModelConfig, ...] = ()
    tasks: dict[str, TaskPolicy] = Field(default_factory=_default_tasks)
    budgets: BudgetConfig = BudgetConfig()
    breaker: BreakerConfig = BreakerConfig()
    cache: CacheConfig = CacheConfig()
    router: RouterConfig = RouterConfig()

    @model_validator(mode="after")
    def _check_references(self) -> LLMConfig:
        if not self.tiers or len(set(self.tiers)) != len(self.tiers):
            raise ValueError("tiers: must be a non-empty list of distinct names")
        seen: set[str] = set()
        for i, m in enumerate(self.models):
            if m.id in seen:
                raise ValueError(f"models.{i}.id: duplicate model id {m.id!r}")
            seen.add(m.id)
            if m.provider not in self.providers:
                raise ValueError(f"models.{i}.provider: unknown provider {m.provider!r}")
            if m.tier not in self.tiers:
                raise ValueError(f"models.{i}.tier: {m.tier!r} is not one of {list(self.tiers)}")
        for name, policy in self.tasks.items():
            if name not in TASKS:
                raise ValueError(f"tasks.{name}: unknown task; known: {list(TASKS)}")
            if policy.min_tier not in self.tiers:
                raise ValueError(f"tasks.{name}.min_tier: {policy.min_tier!r} not in tiers")
        return self

    def tier_rank(self, tier: str) -> int:
        return self.tiers.index(tier)

    def policy(self, task: str) -> TaskPolicy:
        """The task's policy; a task missing from the config may use any tier."""
        return self.tasks.get(task) or TaskPolicy(min_tier=self.tiers[0])

    def model(self, model_id: str) -> ModelConfig:
        for m in self.models:
            if m.id == model_id:
                return m
        raise ConfigError(f"unknown model {model_id!r}", field="models")

    def provider_options(self, name: str, environ: Mapping[str, str]) -> dict[str, Any]:
        """Keyword options for `registry.build_provider(kind, name, **options)`."""
        p = self.providers[name]
        opts: dict[str, Any] = dict(p.options)
        key = p.api_key or (environ.get(p.api_key_env) if p.api_key_env else None)
        url_key = "azure_endpoint" if p.kind == "azure" else "base_url"
        for k, v in (
            (url_key, p.base_url),
            ("api_key", key),
            ("api_version", p.api_version),
            ("model_path", p.model_path),
        ):
            if v is not None:
                opts[k] = v
        opts["timeout_s"] = p.timeout_s
        return opts


def build_providers(
    config: LLMConfig, environ: Mapping[str, str]
) -> tuple[dict[str, ChatProvider], dict[str, str]]:
    """Build every configured provider through the registry (for the composition root).

    A provider of kind "local" or marked optional whose SDK is missing (or which fails to load)
    is left out, with the reason in the second mapping; any other failure raises ConfigError.
    """
    from pipelines.llm.registry import build_provider

    built: dict[str, ChatProvider] = {}
    skipped: dict[str, str] = {}
    for name, p in config.providers.items():
        try:
            built[name] = build_provider(p.kind, name, **config.provider_options(name, environ))
        except LLMError as exc:
            if p.kind != "local" and not p.optional:
                raise
            skipped[name] = exc.message
    return built, skipped


# Published list prices (USD per million tokens) for the models the env default offers.
OPENAI_DEFAULT_MODELS: tuple[dict[str, Any], ...] = (
    {"id": "gpt-4o-mini", "tier": "mid", "price_in_per_mtok": 0.15, "price_out_per_mtok": 0.60,
     "context_tokens": 128_000, "max_output_tokens": 16_384, "structured": "json_schema"},
    {"id": "gpt-4o", "tier": "premium", "price_in_per_mtok": 2.50, "price_out_per_mtok": 10.00,
     "context_tokens": 128_000, "max_output_tokens": 16_384, "structured": "json_schema"},
)


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    providers: dict[str, Any] = {}
    models: list[dict[str, Any]] = []
    if environ.get("OPENAI_API_KEY"):
        providers["openai"] = {"kind": "openai", "api_key_env": "OPENAI_API_KEY"}
        if environ.get("OPENAI_BASE_URL"):
            providers["openai"]["base_url"] = environ["OPENAI_BASE_URL"]
        models += [{**m, "provider": "openai"} for m in OPENAI_DEFAULT_MODELS]
    if environ.get("LECTERN_LOCAL_MODEL_PATH"):
        providers["local"] = {"kind": "local", "model_path": environ["LECTERN_LOCAL_MODEL_PATH"]}
        models.append({"id": "local", "provider": "local", "tier": "free",
                       "context_tokens": int(environ.get("LECTERN_LOCAL_CONTEXT_TOKENS", "4096")),
                       "max_output_tokens": 1024})
    raw: dict[str, Any] = {"providers": providers, "models": models}
    if environ.get("LECTERN_DAILY_BUDGET_USD"):
        raw["budgets"] = {"daily_usd": environ["LECTERN_DAILY_BUDGET_USD"]}
    return raw


def _with_extractive(raw: dict[str, Any]) -> dict[str, Any]:
    """Add the built-in extractive answerer unless the config already names one."""
    providers = dict(raw.get("providers") or {})
    models = list(raw.get("models") or [])
    if any(isinstance(p, dict) and p.get("kind") == EXTRACTIVE_KIND for p in providers.values()):
        return raw
    tiers = raw.get("tiers") or LLMConfig.model_fields["tiers"].default
    providers.setdefault("extractive", {"kind": EXTRACTIVE_KIND})
    models.append({"id": "extractive", "provider": "extractive", "tier": next(iter(tiers)),
                   "tasks": ["answer"], "priority": 100, "context_tokens": 1_000_000,
                   "structured": "none"})
    return {**raw, "providers": providers, "models": models}


def _drop_unkeyed_optional(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    providers = dict(raw.get("providers") or {})
    dropped: set[str] = set()
    for name, p in list(providers.items()):
        if not isinstance(p, dict) or not p.get("api_key_env") or p.get("api_key"):
            continue
        if environ.get(p["api_key_env"]):
            continue
        if p.get("optional"):
            del providers[name]
            dropped.add(name)
        else:
            raise ConfigError(
                f"providers.{name}.api_key_env: environment variable {p['api_key_env']} is not "
                "set (set it, or mark the provider optional = true)",
                field=f"providers.{name}.api_key_env",
            )
    models = [m for m in raw.get("models") or []
              if not isinstance(m, dict) or m.get("provider") not in dropped]
    return {**raw, "providers": providers, "models": models}


def _fill_tasks(raw: dict[str, Any]) -> dict[str, Any]:
    """Tasks the config leaves out get the default policy (at the lowest tier if no "mid")."""
    tiers = list(raw.get("tiers") or LLMConfig.model_fields["tiers"].default)
    given = raw.get("tasks")
    if given is not None and not isinstance(given, dict):
        return raw
    tasks: dict[str, Any] = {}
    for name, policy in _default_tasks().items():
        tier = policy.min_tier if policy.min_tier in tiers else tiers[0] if tiers else "free"
        tasks[name] = policy.model_copy(update={"min_tier": tier}).model_dump()
    for name, policy in (given or {}).items():
        tasks[name] = {**tasks.get(name, {}), **policy} if isinstance(policy, dict) else policy
    return {**raw, "tasks": tasks}


def parse_config(raw: Mapping[str, Any], environ: Mapping[str, str]) -> LLMConfig:
    """Validate a config mapping (as read from TOML); errors become ConfigError naming the field."""
    data = _fill_tasks(_with_extractive(_drop_unkeyed_optional(dict(raw), environ)))
    try:
        return LLMConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = first["msg"].removeprefix("Value error, ")
        loc = ".".join(str(x) for x in first["loc"])
        if not loc:  # a cross-field check: its message starts with the field
            loc, _, msg = msg.partition(": ") if ": " in msg else ("(root)", "", msg)
        raise ConfigError(f"invalid LLM config at {loc}: {msg}", field=loc,
                          errors=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
                          ) from exc


def load_config(path: Path | None, environ: Mapping[str, str]) -> LLMConfig:
    """Load `path` (or `LECTERN_CONFIG`) as TOML; without either, build from the environment."""
    if path is None and environ.get("LECTERN_CONFIG"):
        path = Path(environ["LECTERN_CONFIG"])
    if path is None:
        return parse_config(_from_environ(environ), environ)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"LLM config file not found: {path}", field="LECTERN_CONFIG") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", field="(file)") from exc
    return parse_config(raw, environ)
