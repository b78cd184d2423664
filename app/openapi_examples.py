"""What the OpenAPI document says beyond the routes' own types: request examples, the error
bodies, and the SSE events of `POST /v1/ask`. Data only; `app.openapi` puts it in place.

Why a table rather than examples on each model: several bodies are read by hand (the
multipart upload, extraction's JSON-or-form body), and the examples must stay true to what
the routes accept: a test validates every JSON example against its schema.
"""

from __future__ import annotations

from typing import Any

DOCUMENT_ID = "3f0c6f3e-9a55-4c1b-9d43-0d4f3f2b8a10"

REQUEST_EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/documents"): {"multipart/form-data": {
        "file": "(the PDF, image or text file)", "collection": "finance",
        "metadata": '{"year": 2023, "source": "annual report"}',
        "external_id": "annual-report-2023"}},
    ("put", "/v1/documents/{document_id}/content"): {"multipart/form-data": {
        "file": "(the new version of the file)"}},
    ("patch", "/v1/documents/{document_id}"): {"application/json": {
        "metadata": {"year": 2024}, "collection": "archive"}},
    ("post", "/v1/extract"): {
        "application/json": {"schema": "receipt", "document_id": DOCUMENT_ID},
        "multipart/form-data": {"file": "(the scanned invoice)", "schema": "invoice"}},
    ("post", "/v1/ask"): {"application/json": {
        "question": "What was revenue in 2023?", "top_k": 5, "collection": "finance",
        "stream": True}},
    ("post", "/v1/conversations"): {"application/json": {"title": "Revenue questions"}},
    ("post", "/v1/search"): {"application/json": {
        "query": "revenue 2023", "top_k": 5, "mode": "hybrid", "collection": "finance"}},
    ("post", "/v1/chat/completions"): {"application/json": {
        "model": "lectern-rag", "stream": True,
        "messages": [{"role": "user", "content": "What was revenue in 2023?"}]}},
    ("post", "/v1/embeddings"): {"application/json": {
        "model": "lectern-embedding", "input": ["What was revenue in 2023?"]}},
    ("post", "/v1/answers/{answer_id}/feedback"): {"application/json": {
        "rating": "down", "comment": "cited the wrong year"}},
}
"""Examples per (method, path) and content type, where the body's schema has none."""

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "Error", "required": ["error"],
    "description": "Every lectern error: a stable code, a message for people, and details.",
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {
            "code": {"type": "string", "examples": ["validation_error", "document_not_found",
                                                    "rate_limit_exceeded"]},
            "message": {"type": "string"},
            "details": {"type": "object", "additionalProperties": True}}}},
    "examples": [{"error": {"code": "validation_error",
                            "message": "body.question: Field required",
                            "details": {"errors": [{"loc": ["body", "question"],
                                                    "msg": "Field required",
                                                    "type": "missing"}]}}}],
}

OPENAI_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "OpenAIError", "required": ["error"],
    "description": "Errors of the OpenAI-compatible routes, in OpenAI's shape.",
    "properties": {"error": {
        "type": "object", "required": ["message", "type", "param", "code"],
        "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                       "param": {"type": ["string", "null"]},
                       "code": {"type": ["string", "null"]}}}},
    "examples": [{"error": {"message": "rate limit reached: 60 requests per minute for this "
                                       "API key; retry in 12 s", "type": "requests",
                            "param": None, "code": "rate_limit_exceeded"}}],
}

STATUS_TEXT = {
    400: "Bad request", 401: "Missing, invalid, revoked or expired API key",
    402: "LLM budget exhausted", 403: "This API key may not do this",
    404: "Not found", 409: "Conflict", 413: "Upload too large",
    422: "The request did not validate", 429: "Rate limit reached",
    500: "Internal error (the message names the request id)",
    502: "The LLM provider failed", 503: "Database unavailable, or no LLM configured",
}

RATE_LIMIT_HEADERS: dict[str, Any] = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in (("Retry-After", "seconds to wait"),
                       ("X-RateLimit-Limit", "the limit per minute"),
                       ("X-RateLimit-Remaining", "what is left of it this minute"),
                       ("X-RateLimit-Reset", "seconds until the minute's window ends"))}

ASK_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "meta": ("request_id", "provider", "model", "tier", "prompt", "cached", "extractive",
             "degraded", "attempt", "insufficient_evidence", "conversation_id", "query",
             "query_rewrite"),
    "sources": ("n", "document_id", "filename", "page_start", "page_end", "section", "score",
                "text", "chunk_ids", "truncated"),
    "token": ("text",),
    "handover": ("provider", "model", "tier", "attempt", "kept_chars", "error"),
    "usage": ("input_tokens", "output_tokens", "cost_usd", "ttft_ms", "latency_ms",
              "retrieval_ms", "attempts"),
    "done": ("finish_reason",),
    "error": ("code", "message", "details", "partial_text", "cost_usd"),
}
"""The SSE events of `POST /v1/ask` and the fields of their JSON data (`sources`: a list of
objects with these fields), as `pipelines.answer.events` writes them."""

ASK_EVENTS = "\n".join([
    "`text/event-stream`: one SSE event per step, named by `event:`, its JSON in `data:`. A",
    "complete answer is `meta`, `sources`, `token`..., `usage`, `done`; a broken one ends",
    "with `error` instead. `handover` marks a mid-stream failover to another model (a second",
    "`sources` may follow it). Comments (`: ping`) keep idle connections open.", "",
    *(f"- `{name}`: " + ", ".join(f"`{f}`" for f in fields)
      for name, fields in ASK_EVENT_FIELDS.items())])

ASK_STREAM_EXAMPLE = (
    'event: meta\ndata: {"request_id":"9b1d…","provider":"openai","model":"gpt-4o-mini",'
    '"tier":"mid","insufficient_evidence":false}\n\n'
    'event: sources\ndata: [{"n":1,"filename":"report.pdf","page_start":2,"page_end":2}]\n\n'
    'event: token\ndata: {"text":"Revenue was $42.8 million [1]."}\n\n'
    'event: usage\ndata: {"input_tokens":812,"output_tokens":11,"cost_usd":0.00013}\n\n'
    'event: done\ndata: {"finish_reason":"stop"}\n\n')
