"""Gateway models: a plain chat completion routed by the cost router, without retrieval.

A gateway model is named by a configured model id (`gpt-4o-mini`) or a tier alias
(`tier:mid`). The cost router decides by task and tier, not by model name, so each name gets a
`Router` of its own over a subset of the configured models, sharing the main router's
providers, budget, ledger, metrics, answer cache and prompts:

- `tier:T`: every usable model at tier T or above, cheapest healthy first, failing over
  between them as the router always does (its ledger rows say `fallback` for a failed try).
- a model id: that model first; when it fails before its first token (a retryable provider
  error, or its breaker is open), the usable models at its tier or above, cheapest first.
  These are two routers in a chain, because `RouteRequest` cannot ask the router to try a
  named model first: the pinned model's failed row says `error` rather than `fallback`, its
  `attempt` numbers restart at 1 in the second router, and a stream that breaks after its
  first token is not continued by the fallback models (the router would do that within one).

Usable: the provider was built, the model is not restricted to some tasks (`tasks` in the
config; the task here is `chat`, which no configuration names), and it is not the extractive
answerer (which only answers from sources). Each of these routers has its own circuit
breakers: a provider failing here opens its breaker for the gateway, not for `/v1/ask`, like
the OCR cleaner's router of its own.

Tools, tool messages and `stop` go only to models whose provider takes them (the router's
capability filter); when no model a name routes to can, the request is the client's mistake
(400 `tools_unsupported` / `stop_unsupported`, naming the field), not a missing model. A call
with tools or tool messages bypasses the answer cache, which keeps text and not tool calls.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.chat.errors import InvalidChatRequest
from pipelines.chat.stream import ChatStream, start_stream
from pipelines.llm import (
    NO_STOP,
    NO_TOOLS,
    CacheQuery,
    Message,
    ModelConfig,
    NoProviderAvailable,
    ProviderError,
    RoutedCompletion,
    Router,
    RouteRequest,
    ToolUse,
)

TASK = "chat"
"""The task of a gateway call, as the ledger, the metrics and `/v1/usage` show it."""
PROMPT = "openai-chat"
"""The prompt ref of a gateway call: the client's messages, passed through as sent."""
TIER_PREFIX = "tier:"
_TOO_LONG = "exceeds the context window"
_CAPABILITIES = {NO_TOOLS: ("tools", "tools_unsupported", "tool calling"),
                 NO_STOP: ("stop", "stop_unsupported", "stop sequences")}
"""Skip reason → (the request field, the error code, the capability's name)."""


@dataclass(frozen=True)
class GatewayModel:
    """A resolved gateway model name: the configured model tried first (None for a tier alias)
    and the lowest tier that may serve it."""

    name: str
    tier: str
    pinned: str | None = None


class Gateway:
    """Plain completions for gateway model names, over routers derived from `router`.

    The derived routers are built on first use and kept, so their breakers remember failures
    across requests. Safe to share across concurrent requests of one event loop.
    """

    def __init__(self, router: Router) -> None:
        self.base = router
        self._routers: dict[tuple[str, ...], Router] = {}

    def usable(self) -> list[ModelConfig]:
        """The configured models a gateway name may route to, in configuration order."""
        config, providers = self.base.config, self.base.providers
        found = []
        for m in config.models:
            provider = providers.get(m.provider)
            if provider is None or m.tasks is not None:
                continue
            if config.providers[m.provider].kind == "extractive":
                continue
            if provider.capabilities(m.model_name).extractive:
                continue
            found.append(m)
        return found

    def tiers(self) -> list[str]:
        """The tiers that some usable model serves (at that tier or above), lowest first."""
        config = self.base.config
        ranks = [config.tier_rank(m.tier) for m in self.usable()]
        return [t for t in config.tiers if ranks and config.tier_rank(t) <= max(ranks)]

    def resolve(self, name: str) -> GatewayModel | None:
        """The gateway model `name` stands for, or None when it names none."""
        if name.startswith(TIER_PREFIX):
            tier = name.removeprefix(TIER_PREFIX)
            return GatewayModel(name, tier) if tier in self.tiers() else None
        for m in self.usable():
            if m.id == name:
                return GatewayModel(name, m.tier, m.id)
        return None

    async def complete(self, model: GatewayModel, request: RouteRequest) -> RoutedCompletion:
        """One whole reply (see the module docstring for the order models are tried in).

        Raises what `Router.complete` raises; a prompt too long for every model is
        `InvalidChatRequest` (400 `context_length_exceeded`)."""
        chain = self._chain(model)
        for i, router in enumerate(chain):
            try:
                return await router.complete(request)
            except (ProviderError, NoProviderAvailable) as exc:
                _fail_or_fall_back(exc, last=i + 1 == len(chain))
        raise AssertionError("a gateway chain is never empty")

    async def stream(self, model: GatewayModel, request: RouteRequest) -> ChatStream:
        """The reply as router events, started: its first event has arrived, so a failure
        before any text is raised here (as `complete` raises it) and not from the stream."""
        chain = self._chain(model)
        for i, router in enumerate(chain):
            try:
                return await start_stream(router.stream(request))
            except (ProviderError, NoProviderAvailable) as exc:
                _fail_or_fall_back(exc, last=i + 1 == len(chain))
        raise AssertionError("a gateway chain is never empty")

    def _chain(self, model: GatewayModel) -> list[Router]:
        """The routers to try in order: the pinned model's, then its tier's others."""
        config = self.base.config
        rank = config.tier_rank(model.tier)
        tier = [m.id for m in self.usable() if config.tier_rank(m.tier) >= rank]
        if model.pinned is None:
            return [self._router(tier)]
        others = [m for m in tier if m != model.pinned]
        return [self._router([model.pinned]), *([self._router(others)] if others else [])]

    def _router(self, ids: Sequence[str]) -> Router:
        key = tuple(ids)
        router = self._routers.get(key)
        if router is None:
            base = self.base
            models = tuple(m for m in base.config.models if m.id in key)
            router = Router(base.config.model_copy(update={"models": models}), base.providers,
                            budget=base.budget, ledger=base.ledger, metrics=base.metrics,
                            cache=base.cache, prompts=base.prompts)
            self._routers[key] = router
        return router


def _fail_or_fall_back(exc: ProviderError | NoProviderAvailable, *, last: bool) -> None:
    """Return when the next router of a chain may take over after `exc` (a retryable error,
    or nothing eligible: breaker open, prompt too long); raise the client's error otherwise.
    A prompt no model could hold is the client's fault (400), not a missing model (503)."""
    if not last and (isinstance(exc, NoProviderAvailable) or exc.retryable):
        return
    skipped = exc.details.get("skipped") if isinstance(exc, NoProviderAvailable) else None
    if isinstance(skipped, dict) and skipped and all(
            _TOO_LONG in str(reason) for reason in skipped.values()):
        raise InvalidChatRequest(
            "the messages and max_tokens do not fit the context window of any model this "
            "name routes to", param="messages", code="context_length_exceeded",
            skipped=skipped) from exc
    if isinstance(skipped, dict) and skipped and all(
            reason in _CAPABILITIES for reason in skipped.values()):
        param, code, capability = _CAPABILITIES[next(iter(skipped.values()))]
        raise InvalidChatRequest(
            f"{param}: no model this name routes to supports {capability} "
            f"({', '.join(f'{m}: {r}' for m, r in skipped.items())})", param=param, code=code,
            skipped=skipped) from exc
    raise exc


def route_request(tenant: str, messages: Sequence[Message], *, max_tokens: int | None,
                  temperature: float, json_schema: dict[str, Any] | None = None,
                  schema_name: str = "output", request_id: str, json_object: bool = False,
                  tools: ToolUse | None = None, stop: Sequence[str] = ()) -> RouteRequest:
    """The router call of a gateway completion: task `chat`, the messages as sent, with the
    client's tools, stop sequences and JSON mode.

    The answer cache serves it only at temperature 0, where one reply stands for every
    other, and never with tools or tool messages (a cached reply is text, without the tool
    calls a client would wait for); its key is a hash of everything that shapes the reply
    (messages, output cap, schema or JSON mode, stop sequences) plus, as always, the prompt
    ref and the model. `request_id` ties the ledger rows of every router of a chain
    together."""
    cache = None
    if temperature == 0 and tools is None and not any(m.uses_tools for m in messages):
        material: dict[str, Any] = {
            "messages": [[m.role, m.content] for m in messages], "max_tokens": max_tokens,
            "schema": json_schema, "schema_name": schema_name}
        if json_object or stop:  # only then: earlier keys stay valid
            material |= {"json_object": json_object, "stop": list(stop)}
        blob = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        cache = CacheQuery(hashlib.sha256(blob.encode()).hexdigest(), ())
    return RouteRequest(TASK, tenant, tuple(messages), prompt=PROMPT, max_tokens=max_tokens,
                        temperature=temperature, json_schema=json_schema,
                        schema_name=schema_name, request_id=request_id, cache=cache,
                        json_object=json_object, tools=tools, stop=tuple(stop))
