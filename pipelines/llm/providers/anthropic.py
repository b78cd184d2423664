"""Adapter for Anthropic's Messages API through the `anthropic` SDK (extra 'anthropic').

Why a separate adapter: Anthropic's protocol differs from OpenAI's (system prompt apart from
the messages, typed stream events, structured output only through tool use). The SDK is
imported when a provider is built, so installs without the extra work until one is configured.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pipelines.llm.errors import ConfigError, ProviderError
from pipelines.llm.providers import MALFORMED_REPLY, malformed_error, sdk_error
from pipelines.llm.types import (
    Capabilities,
    ChatRequest,
    Completion,
    StreamEnd,
    StreamItem,
    TextDelta,
    TokenUsage,
)

INSTALL_HINT = "pip install 'lectern[anthropic]'"


def _sdk() -> Any:
    try:
        import anthropic
    except ImportError as exc:
        raise ConfigError(f"the anthropic provider needs the anthropic SDK: {INSTALL_HINT}",
                          install=INSTALL_HINT) from exc
    return anthropic


def anthropic_params(request: ChatRequest, *, default_max_tokens: int = 1024,
                     send_temperature: bool = False) -> dict[str, Any]:
    """`messages.create` keyword arguments for `request`: system messages joined apart, a
    forced tool whose input is the reply when `json_schema` is set."""
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or default_max_tokens,
        "messages": [{"role": m.role, "content": m.content}
                     for m in request.messages if m.role != "system"],
    }
    if system:
        params["system"] = system
    if send_temperature:
        params["extra_body"] = {"temperature": request.temperature}
    if request.json_schema is not None:
        name = re.sub(r"[^A-Za-z0-9_-]", "_", request.schema_name)[:64] or "output"
        params["tools"] = [{"name": name, "input_schema": request.json_schema,
                            "description": "Give the result as this tool's input."}]
        params["tool_choice"] = {"type": "tool", "name": name}
    return params


class AnthropicProvider:
    """A `ChatProvider` for Anthropic models. Retries are off (the router retries);
    `send_temperature` is off because recent models reject a temperature."""

    def __init__(
        self,
        name: str = "anthropic",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 0,
        default_max_tokens: int = 1024,
        send_temperature: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        sdk = _sdk()
        if not api_key:
            raise ConfigError("the anthropic provider needs an api_key", provider=name)
        self.name = name
        self._sdk = sdk
        self._timeout_s = timeout_s
        self._default_max_tokens = default_max_tokens
        self._send_temperature = send_temperature
        self._client: Any = sdk.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries,
            default_headers=dict(extra_headers or {}))

    def capabilities(self, model: str) -> Capabilities:
        """Streaming; structured output through a forced tool."""
        return Capabilities(streaming=True, structured="tools")

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params = anthropic_params(request, default_max_tokens=self._default_max_tokens,
                                  send_temperature=self._send_temperature)
        params["timeout"] = request.timeout_s or self._timeout_s
        return params

    async def complete(self, request: ChatRequest) -> Completion:
        """One whole reply; with a schema, the forced tool's input as JSON text."""
        try:
            message = await self._client.messages.create(**self._params(request))
            texts = [b.text for b in message.content if b.type == "text"]
            tools = [json.dumps(b.input) for b in message.content if b.type == "tool_use"]
            usage = TokenUsage(message.usage.input_tokens, message.usage.output_tokens)
        except self._sdk.AnthropicError as exc:
            raise self._error(exc, request, started=False) from exc
        except MALFORMED_REPLY as exc:
            raise self._malformed(exc, request, started=False) from exc
        text = tools[0] if tools and request.json_schema is not None else "".join(texts)
        return Completion(text, usage, message.stop_reason)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Text (or tool-input JSON) pieces from the raw event stream, then usage."""
        started = False
        input_tokens = output_tokens = 0
        finish: str | None = None
        try:
            events = await self._client.messages.create(**self._params(request), stream=True)
            async with events:
                async for event in events:
                    if event.type == "message_start":
                        input_tokens = event.message.usage.input_tokens or 0
                    elif event.type == "message_delta":
                        finish = event.delta.stop_reason or finish
                        output_tokens = event.usage.output_tokens or output_tokens
                    elif event.type == "content_block_delta":
                        piece = getattr(event.delta, "text", None)
                        if piece is None:
                            piece = getattr(event.delta, "partial_json", None)
                        if piece:
                            started = True
                            yield TextDelta(piece)
        except self._sdk.AnthropicError as exc:
            raise self._error(exc, request, started=started) from exc
        except MALFORMED_REPLY as exc:
            raise self._malformed(exc, request, started=started) from exc
        yield StreamEnd(TokenUsage(input_tokens, output_tokens), finish)

    def _error(self, exc: Exception, request: ChatRequest, *, started: bool) -> ProviderError:
        """Translate an SDK exception (see `sdk_error`)."""
        return sdk_error(self._sdk, exc, provider=self.name, model=request.model, started=started)

    def _malformed(self, exc: Exception, request: ChatRequest, *, started: bool
                   ) -> ProviderError:
        return malformed_error(exc, provider=self.name, model=request.model, started=started)
