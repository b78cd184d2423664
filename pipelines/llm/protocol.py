"""The seam between lectern and any chat model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from pipelines.llm.types import Capabilities, ChatRequest, Completion, ToolStreamItem


@runtime_checkable
class ChatProvider(Protocol):
    """A chat model endpoint.

    Contract: methods are coroutines safe to call concurrently from one event loop; blocking
    SDKs run in a worker thread inside the adapter. `stream` yields `TextDelta`s (and, to a
    request with `tools`, `ToolCallDelta`s, if `capabilities().tools`) then exactly one
    `StreamEnd`. A request carries tools, tool messages or `stop` only to a provider whose
    capabilities say it takes them (the router's candidate filter). Failures raise
    `pipelines.llm.errors.ProviderError` (SDK exceptions are translated at the adapter), with
    `retryable` set for 429/5xx/timeouts/disconnects, and `before_first_token` telling the
    router whether a transparent failover is still possible.
    Cost: every call may spend money; the router, not the provider, accounts for it.
    """

    name: str

    def capabilities(self, model: str) -> Capabilities: ...

    async def complete(self, request: ChatRequest) -> Completion: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[ToolStreamItem]: ...
