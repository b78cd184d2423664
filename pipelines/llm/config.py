"""Loading the LLM configuration: from a TOML file, or environment defaults without one.

The configuration comes from a TOML file (`LECTERN_CONFIG`, format in docs/llm-config.md) or,
without one, from a few environment variables so that `OPENAI_API_KEY` alone gives a working
mid and premium tier. The `extractive` provider is always added as the offline default for
`answer`. Nothing here reads `os.environ`: the composition root passes the environment in.
The shape being validated is `config_model`'s (`LLMConfig` is re-exported here).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipelines.llm.config_model import EXTRACTIVE_KIND, LLMConfig, default_tasks
from pipelines.llm.errors import ConfigError, LLMError
from pipelines.llm.protocol import ChatProvider
from pipelines.llm.variants import (
    DEFAULT_CHECK_EVERY_S,
    StaticVariants,
    VariantSource,
    WatchedVariants,
    Weights,
)

__all__ = ["OPENAI_DEFAULT_MODELS", "LLMConfig", "build_providers", "load_config", "parse_config",
           "prompt_variants"]


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
    for name, policy in default_tasks().items():
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


def prompt_variants(config: LLMConfig, path: Path | None, environ: Mapping[str, str], *,
                    check: Callable[[Mapping[str, Weights]], None] | None = None,
                    check_every_s: float = DEFAULT_CHECK_EVERY_S) -> VariantSource:
    """The prompt variants of `config`, re-read from `path` (the file `config` came from) when
    that file changes: a whole new config is loaded and validated, and only its `[prompts]` are
    taken (other sections need a restart). `check` validates variants before they are used
    (the registry's `check_variants`), at start-up too, where a failure raises. Without a file,
    the variants stay as `config` has them."""
    initial = config.variant_weights()
    if check is not None:
        check(initial)
    if path is None:
        return StaticVariants(initial)
    return WatchedVariants(path, lambda p: load_config(p, environ).variant_weights(),
                           initial=initial, check=check, check_every_s=check_every_s)
