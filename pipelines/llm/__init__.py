"""The LLM gateway: everything the rest of lectern uses of `pipelines.llm`, in one place.

Code outside this package imports from here, never from the submodules (the import-linter
contract `facade-llm` checks it); tests of the package itself may reach inside. The
submodules import each other by their own paths, never through this package, so loading any
of them never loops back into this file.

- Routing: `Router` picks the cheapest healthy model that meets a task's tier, fails over,
  holds the budget and books the ledger. A call is one `RouteRequest`, given to
  `Router.complete` (a whole reply) or `Router.stream`: task, tenant, the messages or a builder
  fitting them to each model (`MessagesArg`), prompt, output schema, and a `CacheQuery` when
  the answer cache may serve it. `Candidate` is a model the router plans to try.
- What the router hands back: `RoutedCompletion` (a whole reply) or a stream of `RouterEvent`s
  (`Started`, `TextDelta`, `Failover`, then `Finished` or `StreamFailed`), naming who served in
  `Served` and every try in `Attempt`s.
- Configuration: `LLMConfig` and `ModelConfig` (validated TOML or environment defaults),
  `load_config`, `parse_config`, `build_providers`, and `HOW_TO_CONFIGURE`, the hint every
  "no model" error ends with.
- Money, records and observability: `Budget` (per-tenant and per-task daily limits;
  `BudgetStatus` is one budget's standing), `Ledger` (one row per
  attempt), `AnswerCache`, `SemanticCache` (a similar question on the same context; the
  question embedding comes through the `QuestionEmbedder` seam), `LLMMetrics` (Prometheus
  collectors), `DriftMonitor` (quality-drift signals from the ledger: a recent window against
  a baseline, past `DriftBounds`, as `DriftSignal`s in a `DriftReport`).
- Prompts: `PromptRegistry` of versioned `Prompt`s; live variants of a prompt, weighted and
  assigned sticky by a hash (`pick`), come from a `VariantSource`: `StaticVariants`, or
  `WatchedVariants` (the LLM config file, re-read when it changes), as `prompt_variants`
  builds it from the config.
- The provider seam: `ChatProvider` and its types `Message`, `Role`, `TaskType`,
  `ChatRequest`, `SourcePassage`, `Completion`, `TextDelta`, `StreamEnd`, `StreamItem`,
  `TokenUsage`, `Capabilities`, and for tool calling `ToolUse` (the tools a call offers),
  `ToolCall`, `ToolCallDelta`, `ToolStreamItem` (`NO_TOOLS` / `NO_STOP`: the skip reasons of a
  model without tool calling or stop sequences); `FakeProvider` scripted by `FakeStream`s is
  the test double at this seam (tests and bench/ use it).
- Tokens: `count_tokens` and `count_messages`, in the model's own tokenizer, offline;
  `warm_up` loads the tokenizer tables at start-up rather than on the first count.
- Errors: `LLMError` and its subclasses `ProviderError`, `NoProviderAvailable`,
  `BudgetExceeded`, `ConfigError`, `UnknownProvider`, `PromptNotFound`, each with its code and
  HTTP status.
"""

from pipelines.llm.accounting import HOW_TO_CONFIGURE
from pipelines.llm.budget import Budget, BudgetStatus
from pipelines.llm.cache import AnswerCache
from pipelines.llm.candidates import NO_STOP, NO_TOOLS, Candidate, MessagesArg
from pipelines.llm.config import build_providers, load_config, parse_config, prompt_variants
from pipelines.llm.config_model import LLMConfig, ModelConfig
from pipelines.llm.drift import DriftBounds, DriftMonitor, DriftReport, DriftSignal
from pipelines.llm.errors import (
    BudgetExceeded,
    ConfigError,
    LLMError,
    NoProviderAvailable,
    PromptNotFound,
    ProviderError,
    UnknownProvider,
)
from pipelines.llm.ledger import Ledger, PromptUsageRow
from pipelines.llm.metrics import LLMMetrics
from pipelines.llm.prompts import Prompt, PromptRegistry
from pipelines.llm.protocol import ChatProvider
from pipelines.llm.providers.fake import FakeProvider, FakeStream
from pipelines.llm.route_request import CacheQuery, RouteRequest
from pipelines.llm.router import Router
from pipelines.llm.router_events import (
    Attempt,
    Failover,
    Finished,
    RoutedCompletion,
    RouterEvent,
    Served,
    Started,
    StreamFailed,
)
from pipelines.llm.semantic_cache import QuestionEmbedder, SemanticCache
from pipelines.llm.tokens import count_messages, count_tokens, warm_up
from pipelines.llm.types import (
    Capabilities,
    ChatRequest,
    Completion,
    Message,
    Role,
    SourcePassage,
    StreamEnd,
    StreamItem,
    TaskType,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolCallDelta,
    ToolStreamItem,
    ToolUse,
)
from pipelines.llm.variants import StaticVariants, VariantSource, WatchedVariants, pick

__all__ = [
    "HOW_TO_CONFIGURE",
    "NO_STOP",
    "NO_TOOLS",
    "AnswerCache",
    "Attempt",
    "Budget",
    "BudgetExceeded",
    "BudgetStatus",
    "CacheQuery",
    "Candidate",
    "Capabilities",
    "ChatProvider",
    "ChatRequest",
    "Completion",
    "ConfigError",
    "DriftBounds",
    "DriftMonitor",
    "DriftReport",
    "DriftSignal",
    "Failover",
    "FakeProvider",
    "FakeStream",
    "Finished",
    "LLMConfig",
    "LLMError",
    "LLMMetrics",
    "Ledger",
    "Message",
    "MessagesArg",
    "ModelConfig",
    "NoProviderAvailable",
    "Prompt",
    "PromptNotFound",
    "PromptRegistry",
    "PromptUsageRow",
    "ProviderError",
    "QuestionEmbedder",
    "Role",
    "RouteRequest",
    "RoutedCompletion",
    "Router",
    "RouterEvent",
    "SemanticCache",
    "Served",
    "SourcePassage",
    "Started",
    "StaticVariants",
    "StreamEnd",
    "StreamFailed",
    "StreamItem",
    "TaskType",
    "TextDelta",
    "TokenUsage",
    "ToolCall",
    "ToolCallDelta",
    "ToolStreamItem",
    "ToolUse",
    "UnknownProvider",
    "VariantSource",
    "WatchedVariants",
    "build_providers",
    "count_messages",
    "count_tokens",
    "load_config",
    "parse_config",
    "pick",
    "prompt_variants",
    "warm_up",
]
