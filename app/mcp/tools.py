"""The bodies of the MCP tools: each runs, for one tenant, the use case its HTTP route runs.

`search` is `POST /v1/search` (`pipelines.search.retrieve`), `ask` is `POST /v1/ask` without
streaming (`pipelines.conversation.answer_follow_up` with no earlier turns, collected),
`extract` is `POST /v1/extract` on a stored document or raw text (`pipelines.extract`),
`list_documents` and `get_document` are `GET /v1/documents[/{id}]` (`pipelines.ingestion`).
They use the container's model, router, search gate and limits, so a tool call costs, is
budgeted, booked and throttled like the request it mirrors, and answers the same shapes
(the routes' response models). Database calls that are not already off the event loop run in
a worker thread. Errors are raised as the use cases raise them; `app.mcp.results.guarded`
turns them into tool errors.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from mcp.types import CallToolResult

from app.container import Container
from app.errors import ApiError
from app.fields import SearchMode
from app.mcp.results import AskOut, answer_text, as_json, hits_text, result
from app.routes.search import HitOut, SearchOut
from app.schemas import DocumentOut, Listing, listing
from pipelines import ingestion
from pipelines.answer import collect
from pipelines.conversation import answer_follow_up
from pipelines.extract import DEFAULT_MAX_ATTEMPTS, extract_document, extract_text
from pipelines.search import Question, retrieve


class LecternTools:
    """The five tools over one container; every method takes the tenant it acts for."""

    def __init__(self, container: Container) -> None:
        self.container = container

    async def search(self, tenant: str, *, query: str, top_k: int, mode: SearchMode,
                     collection: str | None) -> CallToolResult:
        """The tenant's best chunks for `query`, as `POST /v1/search` answers them."""
        container = self.container
        question = Question(text=query, top_k=top_k, mode=mode, collection=collection)
        with container.session_factory() as session:
            hits = await retrieve(session, tenant=tenant, embedder=container.embedder,
                                  question=question, gate=container.search_gate,
                                  timeout_ms=container.settings.search.timeout_ms,
                                  reranking=container.reranking)
        found = SearchOut(query=query, mode=mode, min_score=question.threshold,
                          hits=[HitOut.of(h) for h in hits]).model_dump(mode="json")
        return result(hits_text(found["hits"]), found)

    async def ask(self, tenant: str, *, question: str, collection: str | None,
                  request_id: str | None) -> CallToolResult:
        """An answer from the tenant's documents with its numbered sources (`[n]` in the text
        cites source `n`); an answer that broke off is the error it broke off with."""
        container = self.container
        with container.session_factory() as session:
            events = await answer_follow_up(
                session, container.session_factory, tenant=tenant,
                question=Question(text=question, collection=collection), history=[],
                conversation_id=None, embedder=container.embedder,
                router=container.llm_router, request_id=request_id,
                gate=container.search_gate,
                search_timeout_ms=container.settings.search.timeout_ms,
                reranking=container.reranking)
            collected = await collect(events)
        error = collected["error"]
        if error is not None:
            raise ApiError(collected["error_status"], error["code"], error["message"],
                           **{**error["details"], "partial_answer": collected["answer"]})
        out = AskOut(answer=collected["answer"], sources=collected["sources"],
                     meta=collected["meta"], usage=collected["usage"],
                     finish_reason=collected["finish_reason"])
        return result(answer_text(out.answer, out.sources), out.model_dump(mode="json"))

    async def extract(self, tenant: str, *, schema: str | dict[str, Any],
                      document_id: uuid.UUID | None, text: str | None) -> CallToolResult:
        """`schema` (a name or a JSON Schema) extracted from a stored document or from
        `text`, validated, with evidence, as `POST /v1/extract` answers it."""
        if (document_id is None) == (text is None):
            raise ApiError(422, "validation_error", "give exactly one of document_id or text")
        container = self.container
        options: dict[str, Any] = {"max_attempts": DEFAULT_MAX_ATTEMPTS}
        if document_id is not None:
            with container.session_factory() as session:
                extracted = await extract_document(
                    container.llm_router, session, container.embedder, tenant=tenant,
                    document_id=document_id, schema=schema, **options)
        else:
            extracted = await extract_text(container.llm_router, tenant=tenant,
                                           text=text or "", schema=schema, **options)
        data = extracted.to_dict()
        return result(as_json(data), data)

    async def list_documents(self, tenant: str, *, collection: str | None, status: str | None,
                             limit: int, offset: int) -> CallToolResult:
        """A page of the tenant's documents, newest first, with the total that match."""

        def run() -> Listing[DocumentOut]:
            with self.container.session_factory() as session:
                found = ingestion.list_documents(session, tenant=tenant, collection=collection,
                                                 status=status, limit=limit, offset=offset)
                return listing(found, DocumentOut.of, limit=limit, offset=offset)

        data = (await asyncio.to_thread(run)).model_dump(mode="json")
        return result(as_json(data), data)

    async def get_document(self, tenant: str, *, document_id: uuid.UUID) -> CallToolResult:
        """One of the tenant's documents (`not_found` for another tenant's id)."""

        def run() -> DocumentOut:
            with self.container.session_factory() as session:
                return DocumentOut.of(ingestion.get_document(session, tenant=tenant,
                                                             document_id=document_id))

        data = (await asyncio.to_thread(run)).model_dump(mode="json")
        return result(as_json(data), data)
