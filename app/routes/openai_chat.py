"""`POST /v1/chat/completions`: OpenAI's chat completions, for RAG and gateway models.

Thin: read the body (`app.openai_compat.schemas`, which refuses what lectern cannot honour),
resolve the model name (`pipelines.chat.resolve_model`: 404 for an unknown one), then

- a RAG model (`lectern-rag`, `lectern-rag/<collection>`): `pipelines.chat.answer_chat`, the
  conversation's last question answered over the tenant's corpus with `[n]` citations, the
  earlier turns as history; the sources ride in the extension field `sources`;
- a gateway model (a configured model id, or `tier:<tier>`): `Gateway.complete` / `stream`,
  the messages passed through the cost router as sent, no retrieval; `tools` (with
  `tool_choice`, `parallel_tool_calls`), tool messages, `stop` and `response_format` go along
  to the models whose provider takes them, and the model's tool calls come back.

`"stream": true` answers `chat.completion.chunk`s as SSE `data:` lines ending with
`data: [DONE]`. Errors before any text (a bad body 400, no model 503, budget 402, provider
failures 502) are plain HTTP errors, which `OpenAIErrorShape` puts in OpenAI's shape; after
that the stream ends with an error object. The completion's id is `chatcmpl-` plus the
request id, which is also the request id of its ledger rows.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.deps import ContainerDep, SessionDep, TenantDep
from app.errors import ApiError
from app.openai_compat.chunks import (
    Chunks,
    gateway_chunks,
    gateway_completion,
    rag_chunks,
    rag_completion,
)
from app.openai_compat.deps import GatewayDep
from app.openai_compat.schemas import ChatBody
from app.openai_compat.sse import OpenAIEventSource
from pipelines.answer import collect
from pipelines.chat import RagModel, answer_chat, resolve_model, route_request
from pipelines.llm import Message

router = APIRouter(prefix="/v1", tags=["openai"])

PING_INTERVAL_S = 15
DEFAULT_TEMPERATURE = 1.0
"""A gateway request without `temperature` gets OpenAI's default."""


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatBody, request: Request, container: ContainerDep,
                           session: SessionDep, tenant: TenantDep,
                           gateway: GatewayDep) -> Response:
    """A chat completion in OpenAI's format, streamed or whole (see the module docstring)."""
    body.refuse_unsupported()
    model = resolve_model(body.model, gateway)
    request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex
    chunks = Chunks(f"chatcmpl-{request_id}", body.model, body.include_usage)
    if isinstance(model, RagModel):
        body.refuse_for_rag()
        return await _rag(body, model, body.to_messages(), chunks, container, session, tenant,
                          request_id)
    schema = body.json_schema()
    call = route_request(
        tenant, body.to_messages(), max_tokens=body.output_tokens,
        temperature=DEFAULT_TEMPERATURE if body.temperature is None else body.temperature,
        json_schema=None if schema is None else schema.schema_,
        schema_name="output" if schema is None else schema.name, request_id=request_id,
        json_object=body.json_object, tools=body.tool_use(), stop=body.stop_sequences())
    if body.stream:
        stream = await gateway.stream(model, call)
        return OpenAIEventSource(gateway_chunks(stream, chunks), stream, ping=PING_INTERVAL_S)
    return JSONResponse(gateway_completion(await gateway.complete(model, call), chunks))


async def _rag(body: ChatBody, model: RagModel, messages: list[Message], chunks: Chunks,
               container: ContainerDep, session: SessionDep, tenant: str,
               request_id: str) -> Response:
    """A RAG model's answer: streamed chunks, or one completion whose message has sources."""
    events = await answer_chat(
        session, container.session_factory, tenant=tenant, model=model, messages=messages,
        embedder=container.embedder, router=container.llm_router, request_id=request_id,
        gate=container.search_gate, search_timeout_ms=container.settings.search.timeout_ms,
        reranking=container.reranking)
    if body.stream:
        return OpenAIEventSource(rag_chunks(events, chunks), events, ping=PING_INTERVAL_S)
    result = await collect(events)
    error = result["error"]
    if error is not None:
        raise ApiError(result["error_status"], error["code"], error["message"])
    return JSONResponse(rag_completion(result, chunks))
