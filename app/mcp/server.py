"""The MCP server: lectern's tools registered on the official SDK's `MCPServer`.

`build_server(container, tenant_of)` is shared by both transports; only `tenant_of` differs:
over streamable HTTP the tenant is the one `app.middleware.AuthGateMiddleware` decided from
the request's Bearer key (`http_tenant`), over stdio the one of the key `lectern mcp` was
started with. It is asked on every call, inside the tool's error guard, so a refused key is
a tool error like any other.

The signatures below are the tools' input schemas (the SDK derives them): the same field
types and bounds as the HTTP bodies (`app.fields`), so text with NUL bytes or an oversized
`top_k` is refused before any use case runs.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from app.container import Container
from app.fields import CollectionName, JsonObject, QueryText, SearchMode, Text
from app.mcp.results import AskOut, guarded
from app.mcp.tools import LecternTools
from app.routes.search import SearchOut
from app.schemas import DocumentOut, Listing
from pipelines.search import DEFAULT_TOP_K

TenantOf = Callable[[Context], Awaitable[str]]
"""Which tenant a tool call acts for; raises `LecternError` (401) to refuse it."""

INSTRUCTIONS = (
    "lectern is a knowledge base of the user's documents (PDFs, scans, text). Use `search` "
    "for passages, `ask` for an answer that cites its sources as [n], `extract` for "
    "structured data from one document, `list_documents`/`get_document` to see what is there."
)
_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

Collection = Annotated[CollectionName, Field(description="only this collection (default: all)")]
DocumentId = Annotated[uuid.UUID, Field(description="a document id from list_documents")]
TopK = Annotated[int, Field(ge=1, le=100, description="how many passages")]
Limit = Annotated[int, Field(ge=1, le=1000, description="at most this many documents")]
Offset = Annotated[int, Field(ge=0, le=1_000_000_000, description="skip this many")]
Status = Literal["processing", "ready", "failed"]
Schema = Annotated[Text | JsonObject, Field(
    description="a named schema ('receipt', 'invoice') or a JSON Schema object")]


async def http_tenant(ctx: Context) -> str:
    """The tenant the auth gate left on the HTTP request that carries this call.

    Raises `RuntimeError` (a crash, answered without details) when there is none: the mount
    is behind the gate, so a missing tenant is a wiring mistake and must not act for anyone.
    """
    request = ctx.request_context.request
    tenant = getattr(getattr(request, "state", None), "tenant", None)
    if not isinstance(tenant, str):
        raise RuntimeError("an MCP call reached a tool without a tenant from the auth gate")
    return tenant


def _request_id(ctx: Context) -> str | None:
    """The HTTP request id (`X-Request-ID`) when the call came over HTTP, for the ledger."""
    request_id = getattr(getattr(ctx.request_context.request, "state", None), "request_id", None)
    return request_id if isinstance(request_id, str) else None


def _new_server() -> MCPServer:
    """`MCPServer` for lectern, without the Rich handler its constructor puts on the root
    logger (`logging.basicConfig`) when that has none yet: logging is `app.logs`'s."""
    root = logging.getLogger()
    placeholder = None if root.handlers else logging.NullHandler()
    if placeholder is not None:
        root.addHandler(placeholder)
    try:
        return MCPServer("lectern", instructions=INSTRUCTIONS, version="0.1.0")
    finally:
        if placeholder is not None:
            root.removeHandler(placeholder)


def build_server(container: Container, tenant_of: TenantOf) -> MCPServer:
    """An `MCPServer` with the tools `search`, `ask`, `extract`, `list_documents` and
    `get_document` over `container`, each acting for `tenant_of(ctx)`."""
    server = _new_server()
    tools = LecternTools(container)

    @server.tool(annotations=_READ_ONLY)
    async def search(ctx: Context, query: QueryText, top_k: TopK = DEFAULT_TOP_K,
                     mode: SearchMode = "hybrid", collection: Collection = None,
                     ) -> Annotated[CallToolResult, SearchOut]:
        """Search the documents: the best passages for `query` (hybrid = vector + full text),
        each with its file, pages, section and score."""
        async def run() -> CallToolResult:
            return await tools.search(await tenant_of(ctx), query=query, top_k=top_k,
                                      mode=mode, collection=collection)
        return await guarded("search", run())

    @server.tool(annotations=_READ_ONLY)
    async def ask(ctx: Context, question: QueryText, collection: Collection = None,
                  ) -> Annotated[CallToolResult, AskOut]:
        """Answer a question from the documents; the answer cites its numbered sources as
        [n], listed after it with file, pages and section."""
        async def run() -> CallToolResult:
            return await tools.ask(await tenant_of(ctx), question=question,
                                   collection=collection, request_id=_request_id(ctx))
        return await guarded("ask", run())

    @server.tool(annotations=_READ_ONLY)
    async def extract(ctx: Context, schema: Schema, document_id: DocumentId | None = None,
                      text: Annotated[Text | None, Field(max_length=2_000_000)] = None,
                      ) -> CallToolResult:
        """Extract structured data (validated, with evidence) from one stored document or
        from raw text; give exactly one of `document_id` or `text`. Needs a chat model with
        structured output configured on the server."""
        async def run() -> CallToolResult:
            return await tools.extract(await tenant_of(ctx), schema=schema,
                                       document_id=document_id, text=text)
        return await guarded("extract", run())

    @server.tool(annotations=_READ_ONLY)
    async def list_documents(ctx: Context, collection: Collection = None,
                             status: Status | None = None, limit: Limit = 50,
                             offset: Offset = 0,
                             ) -> Annotated[CallToolResult, Listing[DocumentOut]]:
        """The documents, newest first (optionally of one collection or status), with how
        many there are in all."""
        async def run() -> CallToolResult:
            return await tools.list_documents(await tenant_of(ctx), collection=collection,
                                              status=status, limit=limit, offset=offset)
        return await guarded("list_documents", run())

    @server.tool(annotations=_READ_ONLY)
    async def get_document(ctx: Context, document_id: DocumentId,
                           ) -> Annotated[CallToolResult, DocumentOut]:
        """One document: file, collection, status, pages, chunks, metadata, processing log."""
        async def run() -> CallToolResult:
            return await tools.get_document(await tenant_of(ctx), document_id=document_id)
        return await guarded("get_document", run())

    return server
