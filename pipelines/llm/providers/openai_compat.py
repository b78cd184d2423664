"""Adapter for every OpenAI-compatible chat endpoint (OpenAI, Azure OpenAI, Groq, Ollama, vLLM,
llama.cpp server, LM Studio) through the official `openai` SDK and its `base_url`.

Why one adapter: these servers speak the same protocol and differ only in address, key and how
much of structured output they support, which `structured_mode` selects. The SDK's own retries
are off by default: retrying and failing over is the router's job, and it needs to see each
failure as a `ProviderError` to do it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import openai

from pipelines.llm.errors import ConfigError, ProviderError
from pipelines.llm.providers import MALFORMED_REPLY, malformed_error, sdk_error
from pipelines.llm.providers.openai_wire import (
    delta_text,
    delta_tool_calls,
    effective_mode,
    reply_tool_calls,
    request_params,
)
from pipelines.llm.providers.structured_modes import (
    ModeMemory,
    StructuredMode,
    rejects_response_format,
)
from pipelines.llm.tokens import count_messages, count_tokens
from pipelines.llm.types import (
    Capabilities,
    ChatRequest,
    Completion,
    Message,
    StreamEnd,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolStreamItem,
)

OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAICompatProvider:
    """A `ChatProvider` for one OpenAI-protocol endpoint.

    `structured_mode` says how `ChatRequest.json_schema` is enforced: "json_schema" (strict
    `response_format`), "json_object" (JSON mode plus the schema in the system message), "tools"
    (a forced function call whose arguments are the reply) or "none" (the schema in the system
    message only; the caller validates). A server that rejects the mode (an error naming
    `response_format`) gets the same call once more in the next weaker mode, and the model's
    mode is remembered (`structured_modes`). Azure OpenAI: pass `azure_endpoint` and `api_version`
    (the request's `model` is the deployment name). `api_key=None` sends a placeholder, for
    local servers that ignore keys. The client's tools, tool messages and `stop` are passed on
    as given (`openai_wire`); `tools=False` / `stop=False` declare a server that cannot take
    them (the router then leaves its models out of such calls). Everything comes from
    arguments; note that the SDK itself
    still falls back to OPENAI_ORG_ID / OPENAI_PROJECT_ID / OPENAI_CUSTOM_HEADERS when
    `organization` / `project` / headers are not given.
    """

    def __init__(
        self,
        name: str = "openai",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 0,
        structured_mode: StructuredMode = "json_schema",
        extra_headers: Mapping[str, str] | None = None,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
        local: bool = False,
        organization: str | None = None,
        project: str | None = None,
        tools: bool = True,
        stop: bool = True,
    ) -> None:
        if structured_mode not in ("json_schema", "json_object", "tools", "none"):
            raise ConfigError(f"unknown structured_mode {structured_mode!r}", provider=name)
        self.name = name
        self.structured_mode: StructuredMode = structured_mode
        self.modes = ModeMemory(name, structured_mode)
        self._timeout_s = timeout_s
        self._max_tokens_param = max_tokens_param
        self._local = local
        self._tools = tools
        self._stop = stop
        key = api_key or "unused"
        headers = dict(extra_headers or {})
        self._client: openai.AsyncOpenAI
        if azure_endpoint is not None:
            if not api_version:
                raise ConfigError("an Azure provider needs api_version", provider=name)
            self._client = openai.AsyncAzureOpenAI(
                azure_endpoint=azure_endpoint, api_version=api_version, api_key=key,
                organization=organization, project=project, timeout=timeout_s,
                max_retries=max_retries, default_headers=headers)
        else:
            self._client = openai.AsyncOpenAI(
                base_url=base_url or OPENAI_BASE_URL, api_key=key, organization=organization,
                project=project, timeout=timeout_s, max_retries=max_retries,
                default_headers=headers)

    def capabilities(self, model: str) -> Capabilities:
        """Streaming, plus the structured-output mode the model is known to accept (the
        configured one until the server rejected it), tools and stop sequences (unless
        declared unsupported)."""
        return Capabilities(streaming=True, structured=self.modes.mode(model), local=self._local,
                            tools=self._tools, stop=self._stop)

    async def aclose(self) -> None:
        """Close the HTTP connection pool (the composition root calls this at shutdown)."""
        await self._client.close()

    async def complete(self, request: ChatRequest) -> Completion:
        """One whole reply; the text is the tool arguments in "tools" mode. `structured`
        on the completion names the mode that served a schema request; a request that
        offered tools gets the model's calls of them as `tool_calls`."""
        mode = self.modes.mode(request.model)
        while True:
            params = self._params(request, stream=False, mode=mode)
            try:
                response = await self._client.chat.completions.create(**params)
                break
            except openai.OpenAIError as exc:
                weaker = self._weaker(exc, request, mode)
                if weaker is None:
                    raise self._error(exc, request, started=False) from exc
                mode = weaker
            except MALFORMED_REPLY as exc:
                raise self._malformed(exc, request, started=False) from exc
        used = effective_mode(request, mode) if request.structured else None
        tool_calls: tuple[ToolCall, ...] = ()
        try:
            choice = response.choices[0]
            if request.tools is not None:
                tool_calls = reply_tool_calls(choice.message.tool_calls)
                text = choice.message.content or ""
            else:
                calls = choice.message.tool_calls or []
                tool_args = [c.function.arguments for c in calls if c.type == "function"]
                text = tool_args[0] if tool_args else (choice.message.content or "")
            finish = choice.finish_reason
            usage = response.usage
        except MALFORMED_REPLY as exc:
            raise self._malformed(exc, request, started=False) from exc
        if usage is not None:
            reported = TokenUsage(usage.prompt_tokens, usage.completion_tokens)
        else:
            written = text + "".join(c.name + c.arguments for c in tool_calls)
            reported = await self._estimate(params, written, request.model)
        return Completion(text, reported, finish, structured=used, tool_calls=tool_calls)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ToolStreamItem]:
        """Text pieces as they arrive, then usage (estimated if the server sent none). For a
        request that offered tools, the tool-call pieces come as `ToolCallDelta`s, in order.

        The chunks are read as plain JSON objects (the SDK's documented low-level `post`, with
        its transport, retries, errors and Azure routing) rather than as SDK models: building
        a `ChatCompletionChunk` per token costs ~0.1 ms of Python, the largest cost of a
        streamed answer when a few hundred stream at once.
        """
        started = False
        usage: TokenUsage | None = None
        finish: str | None = None
        parts: list[str] = []
        try:
            params, sdk_stream = await self._open_stream(request)
            async with sdk_stream:
                async for chunk in sdk_stream:
                    if not isinstance(chunk, dict):
                        raise TypeError(f"stream chunk is {type(chunk).__name__}, not an object")
                    if chunk.get("usage"):
                        counts = chunk["usage"]
                        usage = TokenUsage(int(counts["prompt_tokens"]),
                                      int(counts["completion_tokens"]))
                    for choice in chunk.get("choices") or []:
                        if choice.get("index", 0) != 0:
                            continue
                        delta = choice.get("delta")
                        piece = delta_text(delta, forced_tool=request.tools is None)
                        finish = choice.get("finish_reason") or finish
                        if piece:
                            started = True
                            parts.append(piece)
                            yield TextDelta(piece)
                        if request.tools is not None:
                            for call in delta_tool_calls(delta):
                                started = True
                                parts.append(f"{call.name or ''}{call.arguments}")
                                yield call
        except openai.OpenAIError as exc:
            raise self._error(exc, request, started=started) from exc
        except MALFORMED_REPLY as exc:
            raise self._malformed(exc, request, started=started) from exc
        if usage is None:
            usage = await self._estimate(params, "".join(parts), request.model)
        yield StreamEnd(usage, finish)

    async def _open_stream(self, request: ChatRequest
                           ) -> tuple[dict[str, Any], openai.AsyncStream[object]]:
        """Start a streamed call (its params and the SDK stream), stepping down the structured
        mode when the server rejects it; the rejection comes before any chunk."""
        mode = self.modes.mode(request.model)
        while True:
            params = self._params(request, stream=True, mode=mode)
            timeout = params.pop("timeout")
            try:
                sdk_stream = await self._client.post(
                    "/chat/completions", body=params, cast_to=object, stream=True,
                    stream_cls=openai.AsyncStream[object], options={"timeout": timeout})
                return params, sdk_stream
            except openai.OpenAIError as exc:
                weaker = self._weaker(exc, request, mode)
                if weaker is None:
                    raise
                mode = weaker

    def _weaker(self, exc: openai.OpenAIError, request: ChatRequest, mode: StructuredMode
                ) -> StructuredMode | None:
        """The mode to retry a rejected structured request in, or None to fail as usual."""
        if not request.structured or not rejects_response_format(exc):
            return None
        return self.modes.step_down(request.model, effective_mode(request, mode))

    def _params(self, request: ChatRequest, *, stream: bool, mode: StructuredMode
                ) -> dict[str, Any]:
        params: dict[str, Any] = {"model": request.model, "temperature": request.temperature,
                                  "timeout": request.timeout_s or self._timeout_s}
        if request.max_tokens is not None:
            params[self._max_tokens_param] = request.max_tokens
        params.update(request_params(request, mode))
        if stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        return params

    async def _estimate(self, params: dict[str, Any], text: str, model: str) -> TokenUsage:
        """Usage counted locally, for servers that report none (the first count loads the
        tokenizer tables, so it runs off the event loop)."""
        messages = [Message(m["role"], m.get("content") or "") for m in params["messages"]]
        return await asyncio.to_thread(
            lambda: TokenUsage(count_messages(messages, model), count_tokens(text, model)))

    def _error(self, exc: openai.OpenAIError, request: ChatRequest, *, started: bool
               ) -> ProviderError:
        """Translate an SDK exception (see `sdk_error`); a reply that fails the SDK's
        validation is a malformed reply."""
        if isinstance(exc, openai.APIResponseValidationError):
            return self._malformed(exc, request, started=started)
        return sdk_error(openai, exc, provider=self.name, model=request.model, started=started)

    def _malformed(self, exc: Exception, request: ChatRequest, *, started: bool
                   ) -> ProviderError:
        return malformed_error(exc, provider=self.name, model=request.model, started=started)


def azure_provider(name: str = "azure", *, azure_endpoint: str | None = None,
                   base_url: str | None = None, api_version: str | None = None,
                   **options: Any) -> OpenAICompatProvider:
    """An Azure OpenAI provider (the registry's "azure" kind). The resource endpoint comes as
    `azure_endpoint` or `base_url`; the request's `model` is the deployment name."""
    endpoint = azure_endpoint or base_url
    if not endpoint or not api_version:
        raise ConfigError("an Azure provider needs base_url (the resource endpoint) and "
                          "api_version", provider=name)
    return OpenAICompatProvider(name, azure_endpoint=endpoint, api_version=api_version,
                                **options)
