"""Errors of the chat use case: a model name nobody serves, and a request it cannot honour.

Both are `PipelineError`s, so every door renders them with its own error shape (the OpenAI
routes turn them into `{"error": {"message", "type", "param", "code"}}`). `param` in the
details names the request field at fault, as OpenAI's errors do.
"""

from __future__ import annotations

from typing import Any

from pipelines.errors import PipelineError


class UnknownModel(PipelineError):
    """No RAG model, configured gateway model or tier alias has this name."""

    code = "model_not_found"
    http_status = 404

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **{"param": "model", **details})


class InvalidChatRequest(PipelineError):
    """The request is well-formed JSON but cannot be answered as asked (400)."""

    code = "invalid_request"
    http_status = 400

    def __init__(self, message: str, *, param: str | None, code: str | None = None,
                 **details: Any) -> None:
        super().__init__(message, param=param, **details)
        if code is not None:
            self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.message, self.code, self.details))


def _rebuild(message: str, code: str, details: dict[str, Any]) -> InvalidChatRequest:
    return InvalidChatRequest(message, code=code, **details)
