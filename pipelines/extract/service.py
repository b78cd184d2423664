"""The extraction use case: source pages + schema → validated data, with evidence.

`extract` asks the router's `extract` task for JSON in the schema's strict form (the provider
enforces it in its strongest structured mode: OpenAI strict `json_schema`, llama.cpp
`json_object` with the schema, or a forced tool call), validates the answer (Pydantic for
named schemas, jsonschema for a caller's schema), and on failure asks again with the
validation errors and the stricter `extract_reask` prompt, up to `max_attempts` times. Every
attempt is a separate router call, so each is admitted by the budget and booked in the ledger
(all under one request id), and counted in the router's metrics (`extract_attempts` by
result, `extractions` by outcome: the parse-failure and re-ask rates). Each candidate model
gets the pages that fit its context window, best-ranked first (`pipelines.extract.pages`).
After the last failure: `ExtractionFailed` (422) with the last errors and raw output, or with
`accept_invalid` a result marked `valid: false`. Evidence is looked up for every extracted
value in all source pages.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.extract.errors import ExtractionFailed, NoExtractor, NothingToExtract
from pipelines.extract.evidence import Evidence, SourcePage, find_evidence
from pipelines.extract.json_schema import Target, ValidationErrors
from pipelines.extract.pages import Fitted, LexicalRanker, PageRanker, field_query, fit_pages
from pipelines.extract.pages import render_pages as render
from pipelines.extract.schemas import resolve_target
from pipelines.llm import (
    HOW_TO_CONFIGURE,
    Message,
    ModelConfig,
    RoutedCompletion,
    Router,
    RouteRequest,
    count_messages,
    count_tokens,
)

TASK = "extract"
FIRST_PROMPT = "extract@v1"
REASK_PROMPT = "extract_reask@v1"
DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS_LIMIT = 10
SAFETY_TOKENS = 64  # slack for the providers' own framing of the schema and messages
MAX_PREVIOUS_CHARS = 4000  # how much of a failed answer is quoted back to the model


@dataclass(frozen=True)
class ExtractionResult:
    """What `POST /v1/extract` returns (see `to_dict`)."""

    schema: str
    data: dict[str, Any]
    valid: bool
    attempts: int
    evidence: dict[str, Evidence]
    model: str
    provider: str
    prompt: str
    structured: str
    usage: dict[str, Any]
    pages: list[int]
    truncated: bool
    request_id: str
    errors: ValidationErrors = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON body: schema, data, valid, attempts, evidence, model, provider, prompt,
        usage, plus the pages read and (when invalid) the last errors."""
        return {"schema": self.schema, "data": self.data, "valid": self.valid,
                "attempts": self.attempts,
                "evidence": {k: v.as_dict() for k, v in self.evidence.items()},
                "model": self.model, "provider": self.provider, "prompt": self.prompt,
                "structured": self.structured, "usage": self.usage, "pages": self.pages,
                "truncated": self.truncated, "request_id": self.request_id,
                "errors": self.errors}


def require_extractor(router: Router | None) -> Router:
    """The router, if some configured model can do structured extraction; else NoExtractor
    (503) saying how to configure one. Open breakers are left to the router's own 503."""
    skipped: dict[str, str] = {}
    if router is not None and router.candidates(TASK, (), structured=True, skipped=skipped):
        return router
    if router is not None and any("breaker" in reason for reason in skipped.values()):
        return router
    raise NoExtractor(
        "no configured LLM can extract structured data: extraction needs a chat model with "
        "structured output (the built-in extractive answerer cannot do it). "
        + HOW_TO_CONFIGURE, skipped=skipped)


def parse_json(text: str) -> tuple[Any, str | None]:
    """The JSON object in a model's reply (Markdown fences and surrounding prose tolerated),
    or None and what is wrong with it."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as exc:
        start, end = body.find("{"), body.rfind("}")
        try:
            obj = json.loads(body[start:end + 1]) if 0 <= start < end else None
        except json.JSONDecodeError:
            obj = None
        if obj is None:
            return None, f"the reply is not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(obj, dict):
        return None, f"the reply must be one JSON object, not a JSON {type(obj).__name__}"
    return obj, None


def _error_lines(errors: ValidationErrors) -> str:
    return "\n".join(f"- {e['loc']}: {e['msg']}" for e in errors)


class _Prompter:
    """Builds each attempt's messages, fitted to each candidate model's context window."""

    def __init__(self, router: Router, target: Target, pages: Sequence[SourcePage],
                 ranking: list[int]) -> None:
        self.router = router
        self.pages = pages
        self.ranking = ranking
        self.schema_text = json.dumps(target.model_schema, separators=(",", ":"))
        self.fitted: dict[str, Fitted] = {}
        self.output_tokens = router.config.policy(TASK).max_output_tokens

    def messages(self, prompt: str, extra: dict[str, str]) -> Any:
        template = self.router.prompts.get(prompt)

        def build(model: ModelConfig) -> tuple[Message, ...]:
            name = model.model_name
            frame = template.render(schema=self.schema_text, document="", **extra)
            budget = (model.context_tokens - min(self.output_tokens, model.max_output_tokens)
                      - count_messages(frame, name) - count_tokens(self.schema_text, name)
                      - SAFETY_TOKENS)
            fitted = fit_pages(self.pages, self.ranking, budget,
                               lambda text: count_tokens(text, name))
            self.fitted[model.id] = fitted
            return template.render(schema=self.schema_text, document=render(fitted.pages),
                                   **extra)

        return build


async def extract(
    router: Router | None,
    *,
    tenant: str,
    schema: str | dict[str, Any],
    pages: Sequence[SourcePage],
    ranker: PageRanker | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    accept_invalid: bool = False,
    request_id: str | None = None,
) -> ExtractionResult:
    """Extract `schema` from `pages` (see the module docstring).

    Raises InvalidSchema (422), NothingToExtract (422), NoExtractor (503), ExtractionFailed
    (422), and the router's errors (NoProviderAvailable 503, BudgetExceeded 402, ProviderError).
    """
    target = resolve_target(schema)
    live = require_extractor(router)
    if not any(p.text.strip() for p in pages):
        raise NothingToExtract("the document has no text to extract from")
    max_attempts = max(1, min(max_attempts, MAX_ATTEMPTS_LIMIT))
    request_id = request_id or uuid.uuid4().hex
    ranking = [p.page_no for p in pages]
    if len(pages) > 1:
        query = field_query(target.json_schema)
        ranking = await asyncio.to_thread((ranker or LexicalRanker()).rank, pages, query)
    prompter = _Prompter(live, target, pages, ranking)
    spent = {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "latency_ms": 0}
    extra: dict[str, str] = {}
    prompt = FIRST_PROMPT
    for attempt in range(1, max_attempts + 1):
        prompt = FIRST_PROMPT if attempt == 1 else REASK_PROMPT
        reply: RoutedCompletion = await live.complete(RouteRequest(
            TASK, tenant, prompter.messages(prompt, extra), prompt=prompt,
            json_schema=target.model_schema, schema_name=target.name, request_id=request_id))
        spent["input_tokens"] += reply.usage.input_tokens
        spent["output_tokens"] += reply.usage.output_tokens
        spent["cost_usd"] += reply.cost_usd
        spent["latency_ms"] += reply.latency_ms
        obj, problem = parse_json(reply.text)
        data, errors = target.validate(obj) if problem is None else (None, [
            {"loc": "(root)", "msg": problem}])
        fitted = prompter.fitted.get(reply.served.model, Fitted(tuple(pages)))
        live.metrics.extract_attempt(
            model=reply.served.model, prompt=reply.served.prompt or prompt,
            result="valid" if not errors else "parse_failure" if problem else "schema_failure")
        if not errors or attempt == max_attempts:
            break
        extra = {"previous": reply.text[:MAX_PREVIOUS_CHARS], "errors": _error_lines(errors)}
    outcome = ("failed" if not accept_invalid else "accepted_invalid") if errors else (
        "valid_after_reask" if attempt > 1 else "valid")
    live.metrics.extracted(model=reply.served.model, prompt=FIRST_PROMPT, outcome=outcome)
    if errors and not accept_invalid:
        raise ExtractionFailed(
            f"the model's output did not match the schema after {attempt} attempt(s)",
            errors=errors, raw_output=reply.text, attempts=attempt,
            model=reply.served.model, provider=reply.served.provider, request_id=request_id)
    result = data if data is not None else (obj if isinstance(obj, dict) else {})
    evidence = await asyncio.to_thread(find_evidence, result, pages)
    spent["cost_usd"] = round(float(spent["cost_usd"]), 8)
    return ExtractionResult(
        schema=target.name, data=result, valid=not errors, attempts=attempt,
        evidence=evidence, model=reply.served.model, provider=reply.served.provider,
        prompt=prompt, structured=reply.served.structured, usage=spent,
        pages=fitted.page_numbers, truncated=fitted.truncated, request_id=request_id,
        errors=errors)
