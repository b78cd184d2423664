"""Structured output that adapts to what an OpenAI-compatible server accepts.

Why: many servers that speak the OpenAI protocol accept only part of `response_format`
(llama-cpp-python's server takes `text` or `json_object` and answers a `json_schema` request
with a 422 whose body names `response_format`). Failing such a call would fail every
extraction and, with 5xx replies, open the provider's breaker. Instead the adapter steps down
once per rejected mode, json_schema → json_object (the schema goes into the system message) →
none (the schema in the prompt only; the caller validates and re-asks as always), and
`ModeMemory` remembers per model what the server accepted, so later calls start there.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Literal

StructuredMode = Literal["json_schema", "json_object", "tools", "none"]
WEAKER: dict[str, StructuredMode] = {"json_schema": "json_object", "json_object": "none"}
"""The next weaker mode after a rejection; modes without an entry have nowhere to go."""

log = logging.getLogger(__name__)


def rejects_response_format(exc: Exception) -> bool:
    """Whether an SDK status error (any 4xx/5xx) says the request's `response_format` is the
    problem: its message or body names it. Other failures are left to the router."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or status < 400:
        return False
    body: Any = getattr(exc, "body", None)
    try:
        text = f"{exc} {json.dumps(body, default=str)}"
    except (TypeError, ValueError):
        text = str(exc)
    return "response_format" in text


class ModeMemory:
    """The structured mode each model of one provider is known to accept, in this process.

    Starts at the configured mode; `step_down` records a rejection and returns the mode to try
    next (None when there is no weaker one). Safe to share between threads and tasks.
    """

    def __init__(self, provider: str, configured: StructuredMode) -> None:
        self.provider = provider
        self.configured: StructuredMode = configured
        self._modes: dict[str, StructuredMode] = {}
        self._lock = threading.Lock()

    def mode(self, model: str) -> StructuredMode:
        """The mode to send for `model` now."""
        with self._lock:
            return self._modes.get(model, self.configured)

    def step_down(self, model: str, rejected: StructuredMode) -> StructuredMode | None:
        """`rejected` was refused by `model`: remember (and return) the next weaker mode."""
        weaker = WEAKER.get(rejected)
        if weaker is None:
            return None
        with self._lock:
            current = self._modes.get(model, self.configured)
            if _rank(current) < _rank(weaker):  # another call already stepped further down
                weaker = current
            self._modes[model] = weaker
        log.warning("%s: model %r rejected response_format %s; using %s from now on",
                    self.provider, model, rejected, weaker)
        return weaker

    def known(self) -> dict[str, StructuredMode]:
        """Models whose mode differs from the configured one (what was learnt)."""
        with self._lock:
            return dict(self._modes)


def _rank(mode: StructuredMode) -> int:
    """Strength of a mode on the json_schema → json_object → none chain (tools ranks top)."""
    return {"none": 0, "json_object": 1, "json_schema": 2}.get(mode, 3)
