"""The validated shape of the LLM configuration: providers, models, tiers, task policies,
budgets, breaker, cache, router and prompt-variant sections, and the checks across them.

Pydantic models, frozen and strict (unknown keys are errors). Where a configuration comes from
(a TOML file or the environment) and how it is completed before validation is `config`'s job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.llm.errors import ConfigError
from pipelines.llm.types import TaskType

TASKS: tuple[TaskType, ...] = ("answer", "cleanup", "extract", "classify", "condense")
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
    """Per-tenant daily spend limits in USD (None = unlimited), and per-task daily limits that
    every tenant has beside its own (`tasks`: task name → USD per tenant per UTC day), which
    `tenant_tasks` overrides for one tenant (tenant → task → USD; `inf`: no task limit)."""

    daily_usd: float | None = Field(default=None, ge=0)
    tenants: dict[str, float | None] = Field(default_factory=dict)
    tasks: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    tenant_tasks: dict[str, dict[str, Annotated[float, Field(ge=0)]]] = Field(
        default_factory=dict)
    allow_downgrade: bool = True
    stale_reservation_s: float = Field(default=600.0, gt=0)

    def limit_for(self, tenant: str) -> float | None:
        return self.tenants.get(tenant, self.daily_usd)

    def task_limit(self, task: str | None, tenant: str) -> float | None:
        """`tenant`'s daily limit for `task` (None: the task has no budget of its own)."""
        if task is None:
            return None
        limit = self.tenant_tasks.get(tenant, {}).get(task, self.tasks.get(task))
        return None if limit is None or math.isinf(limit) else limit

    def budgeted_tasks(self, tenant: str) -> list[str]:
        """The tasks with a daily budget of their own for `tenant`, sorted."""
        names = set(self.tasks) | set(self.tenant_tasks.get(tenant, {}))
        return sorted(t for t in names if self.task_limit(t, tenant) is not None)


class BreakerConfig(_Strict):
    failures_to_open: int = Field(default=3, ge=1)
    cooldown_s: float = Field(default=30.0, gt=0)


class CacheConfig(_Strict):
    """The answer cache: exact (same question) and semantic (a similar question on the same
    context, cosine >= `semantic_threshold`; see `semantic_cache`)."""

    enabled: bool = True
    ttl_s: float = Field(default=86_400.0, gt=0)
    semantic: bool = True
    semantic_threshold: float = Field(default=0.90, gt=0, le=1)


class PromptVariants(_Strict):
    """The live versions of one prompt and their weights (`[prompts.answer] variants =
    {"answer@v1" = 0.5, "answer@v2" = 0.5}`): each answer is assigned one version, sticky per
    conversation or question (see `variants`). Weights are relative (they need not sum to 1);
    a weight of 0 keeps a version configured but serves it nothing (a rollback)."""

    variants: dict[str, Annotated[float, Field(ge=0)]]


class RouterConfig(_Strict):
    # After tokens were streamed: "continue" hands the partial answer to the next candidate,
    # "error" ends the stream with a StreamFailed item that keeps the partial text.
    mid_stream: Literal["continue", "error"] = "continue"


def default_tasks() -> dict[str, TaskPolicy]:
    """Each task's policy when the configuration does not set one."""
    return {
        "answer": TaskPolicy(min_tier="mid", max_output_tokens=1024),
        "cleanup": TaskPolicy(min_tier="mid", max_output_tokens=4096),
        "extract": TaskPolicy(min_tier="mid", max_output_tokens=2048),
        "classify": TaskPolicy(min_tier="free", max_output_tokens=64),
        "condense": TaskPolicy(min_tier="free", max_output_tokens=128),
    }


class LLMConfig(_Strict):
    """The whole LLM layer configuration, validated across sections."""

    tiers: tuple[str, ...] = ("free", "mid", "premium")
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: tuple[ModelConfig, ...] = ()
    tasks: dict[str, TaskPolicy] = Field(default_factory=default_tasks)
    budgets: BudgetConfig = BudgetConfig()
    breaker: BreakerConfig = BreakerConfig()
    cache: CacheConfig = CacheConfig()
    router: RouterConfig = RouterConfig()
    prompts: dict[str, PromptVariants] = Field(default_factory=dict)

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
        for name in self.budgets.tasks:
            if name not in TASKS:
                raise ValueError(f"budgets.tasks.{name}: unknown task; known: {list(TASKS)}")
        for who, overrides in self.budgets.tenant_tasks.items():
            for name in overrides:
                if name not in TASKS:
                    raise ValueError(f"budgets.tenant_tasks.{who}.{name}: unknown task; "
                                     f"known: {list(TASKS)}")
        for name, policy in self.tasks.items():
            if name not in TASKS:
                raise ValueError(f"tasks.{name}: unknown task; known: {list(TASKS)}")
            if policy.min_tier not in self.tiers:
                raise ValueError(f"tasks.{name}.min_tier: {policy.min_tier!r} not in tiers")
        for name, live in self.prompts.items():
            for ref in live.variants:
                if ref.partition("@v")[0] != name or not ref.partition("@v")[2].isdigit():
                    raise ValueError(f"prompts.{name}.variants: {ref!r} is not {name}@v<N>")
            if not any(w > 0 for w in live.variants.values()):
                raise ValueError(f"prompts.{name}.variants: needs a version with a weight > 0")
        return self

    def variant_weights(self) -> dict[str, dict[str, float]]:
        """Prompt name → its live versions' weights (`[prompts.NAME] variants`)."""
        return {name: dict(live.variants) for name, live in self.prompts.items()}

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
