"""The events of a streamed answer, each with its wire name and JSON data.

They are the contract of `POST /v1/ask`: `app.sse` turns each into one SSE event named
`event.name` whose data is `json(event.data())`, and `"stream": false` collects the same data
into one object. Order of a complete answer: meta, sources, token..., usage, done. A stream
that breaks ends with `error` instead (its `partial_text` is what was already sent); a
`handover` marks a mid-stream failover after which another model continues the answer (and,
when that model's context differs, a second `sources` event follows it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pipelines.llm import Failover, LLMError, Served
from retrieval.types import Source


@dataclass(frozen=True)
class Meta:
    """Who answers: `provider`/`model`/`tier`/`prompt` are null on the insufficient-evidence
    path, where no model is called. In a conversation, `conversation_id` names it and `query`
    is the stand-alone question retrieval searched for when the follow-up was rewritten
    (`query_rewrite` says how: heuristic or llm); both are null otherwise. A cached answer
    also says which cache served it (`cache`: exact or semantic) and, for a semantic hit, the
    question the answer was cached for (`cached_question`); both keys appear only then.
    `answer_id` names the answer (for `POST /v1/answers/{id}/feedback`) and `variant` is the
    prompt version it was assigned (`prompt` is what the model was given: null when no model
    was called); the answer use case always sets both, and they appear whenever set."""

    name: ClassVar[str] = "meta"
    request_id: str
    provider: str | None
    model: str | None
    tier: str | None
    prompt: str | None
    cached: bool = False
    extractive: bool = False
    degraded: bool = False
    attempt: int = 1
    insufficient_evidence: bool = False
    conversation_id: str | None = None
    query: str | None = None
    query_rewrite: str | None = None
    cache: str | None = None
    cached_question: str | None = None
    answer_id: str | None = None
    variant: str | None = None

    @classmethod
    def of(cls, served: Served) -> Meta:
        """From the router's `Served`."""
        return cls(served.request_id, served.provider, served.model, served.tier, served.prompt,
                   cached=served.cached, extractive=served.extractive, degraded=served.degraded,
                   attempt=served.attempt, cache=served.cache,
                   cached_question=served.cached_question)

    def data(self) -> dict[str, Any]:
        data = {"request_id": self.request_id, "provider": self.provider, "model": self.model,
                "tier": self.tier, "prompt": self.prompt, "cached": self.cached,
                "extractive": self.extractive, "degraded": self.degraded,
                "attempt": self.attempt, "insufficient_evidence": self.insufficient_evidence,
                "conversation_id": self.conversation_id, "query": self.query,
                "query_rewrite": self.query_rewrite}
        if self.cached:
            data["cache"] = self.cache
            data["cached_question"] = self.cached_question
        if self.answer_id is not None:
            data["answer_id"] = self.answer_id
        if self.variant is not None:
            data["variant"] = self.variant
        return data


@dataclass(frozen=True)
class Sources:
    """The numbered sources the model was given; `[n]` in the answer cites `n`."""

    name: ClassVar[str] = "sources"
    sources: tuple[Source, ...]

    def data(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.sources]


@dataclass(frozen=True)
class Token:
    """A piece of answer text."""

    name: ClassVar[str] = "token"
    text: str

    def data(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass(frozen=True)
class Handover:
    """Mid-stream failover: `error` stopped the previous model after `kept_chars` characters;
    the model named here continues from there."""

    name: ClassVar[str] = "handover"
    provider: str
    model: str
    tier: str
    attempt: int
    kept_chars: int
    error: dict[str, Any]

    @classmethod
    def of(cls, event: Failover) -> Handover:
        s = event.served
        return cls(s.provider, s.model, s.tier, s.attempt, event.kept_chars,
                   {"code": event.error.code, "message": event.error.message})

    def data(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "tier": self.tier,
                "attempt": self.attempt, "kept_chars": self.kept_chars, "error": self.error}


@dataclass(frozen=True)
class Usage:
    """Totals over every attempt of the request. `ttft_ms` and `latency_ms` are measured from
    the start of the answer pipeline (retrieval included; `retrieval_ms` of it was retrieval)."""

    name: ClassVar[str] = "usage"
    input_tokens: int
    output_tokens: int
    cost_usd: float
    ttft_ms: int | None
    latency_ms: int
    retrieval_ms: int
    attempts: int

    def data(self) -> dict[str, Any]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cost_usd": round(self.cost_usd, 8), "ttft_ms": self.ttft_ms,
                "latency_ms": self.latency_ms, "retrieval_ms": self.retrieval_ms,
                "attempts": self.attempts}


@dataclass(frozen=True)
class Done:
    """The answer is complete. `finish_reason`: the model's ("stop", "length"), or
    "insufficient_evidence" when no source passed the threshold."""

    name: ClassVar[str] = "done"
    finish_reason: str | None = None

    def data(self) -> dict[str, Any]:
        return {"finish_reason": self.finish_reason}


@dataclass(frozen=True)
class AnswerError:
    """The answer broke; `partial_text` was already streamed as tokens. `cost_usd` is what the
    request spent (null when unknown). `http_status` is the error's outward status, for a door
    that answers the whole result at once; it is not part of the event's data."""

    name: ClassVar[str] = "error"
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    partial_text: str = ""
    cost_usd: float | None = None
    http_status: int = 502

    @classmethod
    def of(cls, error: LLMError, partial_text: str, cost_usd: float | None) -> AnswerError:
        return cls(error.code, error.message, json_safe(error.details), partial_text, cost_usd,
                   error.http_status)

    def data(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details,
                "partial_text": self.partial_text,
                "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 8)}


AnswerEvent = Meta | Sources | Token | Handover | Usage | Done | AnswerError
TERMINAL_EVENTS: tuple[type, ...] = (Done, AnswerError)


def json_safe(value: dict[str, Any]) -> dict[str, Any]:
    """`value` with anything JSON cannot hold turned into strings."""
    safe: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return safe
