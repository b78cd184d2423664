"""`GET /v1/models`, `GET /v1/models/{id}` and `POST /v1/embeddings` in OpenAI's format.

Models: the RAG models (`lectern-rag`, `lectern-rag/<collection>` per collection of the
tenant), the gateway's configured models and tier aliases (`pipelines.chat.list_models`), and
`lectern-embedding`, the container's local embedder. Each entry has OpenAI's fields (`id`,
`object`, `created`, `owned_by`) plus the extension `lectern` (`kind`, and a gateway model's
`tier`).

Embeddings come from the same embedder ingestion and search use (all-MiniLM-L6-v2 by
default: 384 dimensions, unit length), in batches of the embedder's batch size, each batch
its own call off the event loop, so searches' question embeddings are not kept waiting for a
whole request. Limits, refused with 400 and `param` naming the input: at most `MAX_INPUTS`
inputs, each at most the model's window (`max_tokens`, 256 tokens counted with its special
tokens; the model would otherwise cut it off silently), `dimensions` only as the model's own,
and no token-id arrays. `encoding_format` `base64` (the OpenAI SDK's default) sends
little-endian float32s.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.deps import ContainerDep, SessionDep, TenantDep
from app.errors import ApiError
from app.openai_compat.deps import GatewayDep
from app.openai_compat.schemas import EmbeddingsBody
from ingest.embedding import DEFAULT_BATCH_SIZE
from pipelines.chat import ModelCard, UnknownModel, list_models, resolve_model, tenant_collections

router = APIRouter(prefix="/v1", tags=["openai"])

EMBEDDING_MODEL = "lectern-embedding"
"""The model name of the container's embedder in `/v1/embeddings` and `/v1/models`."""
MAX_INPUTS = 256
"""The most inputs one `/v1/embeddings` request may embed."""
_CREATED = int(time.time())  # OpenAI's `created`: lectern's models exist since start-up


def _entry(card: ModelCard) -> dict[str, Any]:
    extension: dict[str, Any] = {"kind": card.kind}
    if card.tier is not None:
        extension["tier"] = card.tier
    return {"id": card.id, "object": "model", "created": _CREATED, "owned_by": card.owned_by,
            "lectern": extension}


_EMBEDDING_ENTRY = {"id": EMBEDDING_MODEL, "object": "model", "created": _CREATED,
                    "owned_by": "lectern", "lectern": {"kind": "embedding"}}


async def _cards(session: SessionDep, tenant: str, gateway: GatewayDep) -> list[ModelCard]:
    collections = await asyncio.to_thread(tenant_collections, session, tenant)
    session.rollback()  # only read: give the connection back
    return list_models(gateway, collections)


@router.get("/models")
async def models(session: SessionDep, tenant: TenantDep, gateway: GatewayDep) -> JSONResponse:
    """Every model name this key may use."""
    data = [_entry(c) for c in await _cards(session, tenant, gateway)]
    return JSONResponse({"object": "list", "data": [*data, _EMBEDDING_ENTRY]})


@router.get("/models/{model_id:path}")
async def model(model_id: str, session: SessionDep, tenant: TenantDep,
                gateway: GatewayDep) -> JSONResponse:
    """One model; 404 `model_not_found` when this key may not use it."""
    if model_id == EMBEDDING_MODEL:
        return JSONResponse(_EMBEDDING_ENTRY)
    resolve_model(model_id, gateway)  # raises UnknownModel
    for card in await _cards(session, tenant, gateway):
        if card.id == model_id:
            return JSONResponse(_entry(card))
    return JSONResponse(_entry(ModelCard(model_id, "lectern", "rag")))  # a collection to be


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


@router.post("/embeddings")
async def embeddings(body: EmbeddingsBody, container: ContainerDep,
                     tenant: TenantDep) -> JSONResponse:
    """Embed `input` with the local embedder (see the module docstring for the limits)."""
    embedder = container.embedder
    if body.model != EMBEDDING_MODEL:
        raise UnknownModel(f"the embedding model {body.model!r} does not exist; use "
                           f"{EMBEDDING_MODEL!r}", model=body.model)
    texts = body.texts()
    if not texts or len(texts) > MAX_INPUTS:
        raise ApiError(400, "invalid_request", f"input: give 1 to {MAX_INPUTS} inputs, not "
                       f"{len(texts)}", param="input")
    if body.dimensions not in (None, embedder.dimension):
        raise ApiError(400, "unsupported_parameter", f"dimensions: {EMBEDDING_MODEL} makes "
                       f"{embedder.dimension}-dimensional vectors only", param="dimensions")
    counts = await asyncio.to_thread(lambda: [embedder.count_tokens(t) for t in texts])
    for i, count in enumerate(counts):
        if count > embedder.max_tokens:
            raise ApiError(400, "context_length_exceeded", f"input.{i}: {count} tokens, more "
                           f"than the {embedder.max_tokens} {EMBEDDING_MODEL} reads",
                           param=f"input.{i}")
    batch = getattr(embedder, "batch_size", DEFAULT_BATCH_SIZE)
    vectors: list[list[float]] = []
    for start in range(0, len(texts), batch):
        vectors += await asyncio.to_thread(embedder.embed, texts[start:start + batch])
    data = [{"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
            for i, v in enumerate(vectors)]
    tokens = sum(counts)
    return JSONResponse({"object": "list", "data": data, "model": EMBEDDING_MODEL,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
