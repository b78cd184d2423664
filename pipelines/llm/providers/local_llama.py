"""Adapter for a GGUF model run in-process by llama.cpp (`llama-cpp-python`, extra 'local').

Why in-process: a single-machine install can answer and clean OCR text with no server and no
key. llama.cpp is blocking and not thread-safe, so every call runs in a worker thread, one at
a time per model (a lock), and streamed chunks cross back to the event loop through a queue.
The model is loaded on first use, not at construction, so start-up stays fast.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pipelines.llm.errors import ConfigError, ProviderError
from pipelines.llm.types import (
    Capabilities,
    ChatRequest,
    Completion,
    StreamEnd,
    StreamItem,
    TextDelta,
    TokenUsage,
)

INSTALL_HINT = "pip install 'lectern[local]'"


def _llama_class() -> Callable[..., Any]:
    """`llama_cpp.Llama`, or a ConfigError saying how to install it."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError(f"the local provider needs llama-cpp-python: {INSTALL_HINT}",
                          install=INSTALL_HINT) from exc
    llama: Callable[..., Any] = llama_cpp.Llama  # typed or not, depending on the install
    return llama


class LocalLlamaProvider:
    """A `ChatProvider` over one local GGUF model.

    Structured output is grammar-constrained by llama.cpp (`response_format` json_object with
    the schema), hence `structured="json_schema"`. `timeout_s` bounds the wait for each piece;
    a timed-out generation is told to stop at its next token. `llama_factory` replaces
    `llama_cpp.Llama` (tests, or a preconfigured loader); it receives the constructor options.
    """

    def __init__(
        self,
        model_path: str,
        *,
        name: str = "local",
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        chat_format: str | None = None,
        timeout_s: float | None = None,
        llama_factory: Callable[..., Any] | None = None,
    ) -> None:
        factory = llama_factory or _llama_class()
        if llama_factory is None and not Path(model_path).is_file():
            raise ConfigError(f"local model file not found: {model_path}", provider=name,
                              model_path=model_path)
        self.name = name
        self._timeout_s = timeout_s
        self._load_args: dict[str, Any] = {
            "model_path": model_path, "n_ctx": n_ctx, "n_threads": n_threads,
            "n_gpu_layers": n_gpu_layers, "chat_format": chat_format, "verbose": False}
        self._factory = factory
        self._llama: Any = None
        self._lock = threading.Lock()  # one generation at a time; guards loading too

    def capabilities(self, model: str) -> Capabilities:
        """Streaming, grammar-enforced structured output, runs locally."""
        return Capabilities(streaming=True, structured="json_schema", local=True)

    async def complete(self, request: ChatRequest) -> Completion:
        """One whole reply, generated in a worker thread."""
        text: list[str] = []
        end: StreamEnd | None = None
        async for item in self.stream(request):
            if isinstance(item, TextDelta):
                text.append(item.text)
            else:
                end = item
        assert end is not None
        return Completion("".join(text), end.usage, end.finish_reason)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Pieces as llama.cpp produces them, then usage counted with the model's tokenizer."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the loop is gone; nobody is listening any more
                stop.set()

        # The worker reports through the queue and never raises, so its future is not awaited.
        loop.run_in_executor(None, self._generate, request, put, stop)
        started = False
        timeout = request.timeout_s or self._timeout_s
        try:
            while True:
                try:
                    kind, value = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    raise self._error(f"no output within {timeout} s", request, started,
                                      retryable=True, kind="timeout") from None
                if kind == "text":
                    started = True
                    yield TextDelta(value)
                elif kind == "end":
                    yield StreamEnd(*value)
                    break
                else:
                    raise self._error(f"{type(value).__name__}: {value}", request, started,
                                      retryable=False, kind="local") from value
        finally:
            stop.set()  # the worker stops at its next piece if the consumer left early

    def _generate(self, request: ChatRequest, put: Callable[[str, Any], None],
                  stop: threading.Event) -> None:
        """Worker thread: load the model if needed, generate, report pieces and usage."""
        try:
            with self._lock:
                if self._llama is None:
                    self._llama = self._factory(**self._load_args)
                llama = self._llama
                chunks = llama.create_chat_completion(**_params(request), stream=True)
                parts: list[str] = []
                finish: str | None = None
                try:
                    for chunk in chunks:
                        if stop.is_set():
                            return
                        choice = chunk["choices"][0]
                        piece = choice.get("delta", {}).get("content") or ""
                        finish = choice.get("finish_reason") or finish
                        if piece:
                            parts.append(piece)
                            put("text", piece)
                finally:
                    getattr(chunks, "close", lambda: None)()
                prompt = "\n".join(m.content for m in request.messages)
                usage = TokenUsage(_count(llama, prompt), _count(llama, "".join(parts)))
            put("end", (usage, finish))
        except Exception as exc:  # reported to the consumer as a ProviderError
            put("error", exc)

    def _error(self, message: str, request: ChatRequest, started: bool, *, retryable: bool,
               kind: str) -> ProviderError:
        return ProviderError(f"{self.name}: {message}", provider=self.name, model=request.model,
                             retryable=retryable, before_first_token=not started, kind=kind)


def _params(request: ChatRequest) -> dict[str, Any]:
    """`create_chat_completion` keyword arguments for `request`."""
    params: dict[str, Any] = {
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "temperature": request.temperature,
    }
    if request.max_tokens is not None:
        params["max_tokens"] = request.max_tokens
    if request.json_schema is not None:
        params["response_format"] = {"type": "json_object", "schema": request.json_schema}
    return params


def _count(llama: Any, text: str) -> int:
    """Tokens of `text` in the model's own vocabulary."""
    return len(llama.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0
