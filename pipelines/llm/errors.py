"""Errors of the LLM layer, under `core.LecternError`: structured fields and the HTTP status."""

from __future__ import annotations

from typing import Any

from core import LecternError


class LLMError(LecternError):
    """Base of every error raised by `pipelines.llm`."""

    code = "llm_error"
    http_status = 502


class ProviderError(LLMError):
    """A provider call failed; `retryable` says whether another attempt or provider may help."""

    code = "provider_error"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str | None = None,
        status: int | None = None,
        retryable: bool = True,
        before_first_token: bool = True,
        **details: Any,
    ) -> None:
        super().__init__(message, provider=provider, model=model, status=status, **details)
        self.provider = provider
        self.model = model
        self.status = status
        self.retryable = retryable
        self.before_first_token = before_first_token


class UnknownProvider(LLMError):
    code = "unknown_provider"
    http_status = 500


class NoProviderAvailable(LLMError):
    """No configured, healthy model can serve the task (or none is configured at all)."""

    code = "no_provider_available"
    http_status = 503


class BudgetExceeded(LLMError):
    """The tenant's daily budget cannot cover the call and no cheaper tier is allowed."""

    code = "budget_exceeded"
    http_status = 402


class ConfigError(LLMError):
    code = "llm_config_invalid"
    http_status = 500


class PromptNotFound(LLMError):
    code = "prompt_not_found"
    http_status = 500
