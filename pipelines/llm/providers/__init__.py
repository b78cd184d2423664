"""Chat provider adapters: each maps `ChatRequest` onto one SDK and its errors onto `ProviderError`.

Adapters are imported lazily through `pipelines.llm.registry`, so an optional SDK that is not
installed only matters when a provider of that kind is configured. Shared helpers live here.
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.llm.types import ChatRequest, Message

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


def is_retryable_status(status: int | None) -> bool:
    """Whether an HTTP status from a provider is worth another attempt (429, 5xx, a few 4xx)."""
    return status is None or status >= 500 or status in RETRYABLE_STATUSES


def schema_instruction(request: ChatRequest) -> str:
    """Prompt text asking for JSON that matches `request.json_schema` (for endpoints that
    cannot enforce a schema themselves)."""
    schema = json.dumps(request.json_schema, indent=2, sort_keys=True)
    return ("Reply with one JSON object and nothing else. It must validate against this JSON "
            f"Schema (named {request.schema_name!r}):\n{schema}")


def with_schema_in_system(request: ChatRequest) -> tuple[Message, ...]:
    """The request's messages with the schema instruction appended to the system message (one
    is added at the front if there is none)."""
    instruction = schema_instruction(request)
    messages = list(request.messages)
    for i, message in enumerate(messages):
        if message.role == "system":
            messages[i] = Message("system", f"{message.content}\n\n{instruction}")
            return tuple(messages)
    return (Message("system", instruction), *messages)


def retry_after_seconds(headers: Any) -> float | None:
    """The `retry-after` header in seconds, if it is a number (HTTP-date values are ignored)."""
    try:
        value = headers.get("retry-after") if headers is not None else None
        return None if value is None else max(0.0, float(value))
    except (TypeError, ValueError):
        return None
