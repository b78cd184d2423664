"""Provider kinds by name, each imported only when a provider of that kind is built.

Why lazy: optional SDKs (anthropic, llama-cpp-python) must not be needed by installs that do
not use them, and importing the openai SDK costs start-up time. An unknown kind fails with the
list of known ones; a known kind with bad options fails with a `ConfigError` naming them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pipelines.llm.errors import ConfigError, LLMError, UnknownProvider
from pipelines.llm.protocol import ChatProvider

# kind -> "module:attribute" of a callable taking (name, **options).
_KINDS: dict[str, str] = {
    "openai": "pipelines.llm.providers.openai_compat:OpenAICompatProvider",
    "openai-compatible": "pipelines.llm.providers.openai_compat:OpenAICompatProvider",
    "azure": "pipelines.llm.providers.openai_compat:azure_provider",
    "anthropic": "pipelines.llm.providers.anthropic:AnthropicProvider",
    "local": "pipelines.llm.registry:_local_llama",
    "extractive": "pipelines.llm.providers.extractive:ExtractiveProvider",
    "fake": "pipelines.llm.providers.fake:FakeProvider",
}
_EXTRA: dict[str, Callable[..., ChatProvider]] = {}


def known_kinds() -> tuple[str, ...]:
    """The provider kinds `build_provider` accepts, sorted."""
    return tuple(sorted({*_KINDS, *_EXTRA}))


def register_kind(kind: str, factory: Callable[..., ChatProvider]) -> None:
    """Add a kind (plugins, tests); `factory(name, **options)` builds the provider."""
    _EXTRA[kind] = factory


def _local_llama(name: str, *, model_path: str | None = None, **options: Any) -> ChatProvider:
    """The "local" kind: llama.cpp, whose constructor takes the model path first."""
    from pipelines.llm.providers.local_llama import LocalLlamaProvider

    if not model_path:
        raise ConfigError("a local provider needs model_path (a GGUF file)", provider=name)
    return LocalLlamaProvider(model_path, name=name, **options)


def _factory(kind: str) -> Callable[..., ChatProvider]:
    if kind in _EXTRA:
        return _EXTRA[kind]
    if kind not in _KINDS:
        raise UnknownProvider(
            f"unknown provider kind {kind!r}; known kinds: {', '.join(known_kinds())}",
            kind=kind, known=list(known_kinds()))
    module, attribute = _KINDS[kind].split(":")
    factory: Callable[..., ChatProvider] = getattr(importlib.import_module(module), attribute)
    return factory


def build_provider(kind: str, name: str | None = None, **options: Any) -> ChatProvider:
    """Build a provider of `kind` called `name` (default: the kind) from keyword options.

    Raises `UnknownProvider` for an unknown kind, `ConfigError` for options the kind does not
    take or a missing optional SDK (with the pip command that installs it).
    """
    factory = _factory(kind)
    try:
        return factory(name or kind, **options)
    except LLMError:
        raise
    except TypeError as exc:  # an option the adapter does not take, or a missing one
        raise ConfigError(f"provider {name or kind!r} (kind {kind!r}): {exc}",
                          provider=name or kind, kind=kind) from exc
