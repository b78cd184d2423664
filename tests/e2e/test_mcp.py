"""The MCP server through the official SDK's own client, over both transports.

Streamable HTTP: a real uvicorn serving the app (`start`, over the seeded two-tenant `world`,
with the offline extractive answerer) and the SDK's `Client` on `/mcp` with a tenant's Bearer
key. Stdio: `lectern mcp` as a subprocess on the same database, started by the SDK's stdio
client as a desktop client starts it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent

from app.mcp import MCP_PATH
from app.middleware import AuthGateMiddleware
from pipelines.llm import load_config
from tests.support.answer_corpus import REVENUE_QUESTION, WARRANTY_QUESTION
from tests.support.ask import AskServer, World

REPO = Path(__file__).resolve().parents[2]
TOOLS = {"search", "ask", "extract", "list_documents", "get_document"}


@pytest.fixture
def offline(start: Any) -> AskServer:
    """A server with no LLM configured: the extractive answerer, no extraction model."""
    server: AskServer = start(load_config(None, {}))
    return server


def _text(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def _http_call(server: AskServer, tenant: str, tool: str,
                     arguments: dict[str, Any]) -> CallToolResult:
    """One tool call over streamable HTTP as `tenant`, by the SDK's client."""
    headers = {"Authorization": f"Bearer {server.keys[tenant]}"}
    async with (httpx2.AsyncClient(headers=headers, timeout=60) as http,
                Client(streamable_http_client(server.url + MCP_PATH, http_client=http)) as client):
        return await client.call_tool(tool, arguments)


def _document_ids(result: CallToolResult, field: str = "hits") -> set[str]:
    data = result.structured_content
    assert isinstance(data, dict), _text(result)
    if field == "hits":
        return {hit["document_id"] for hit in data["hits"]}
    if field == "sources":
        return {source["document_id"] for source in data["sources"]}
    return {item["id"] for item in data["items"]}


def test_the_mount_is_behind_the_auth_gate() -> None:
    assert MCP_PATH.startswith(AuthGateMiddleware.TENANT_PATHS)


async def test_the_sdk_client_lists_the_tools_over_http(offline: AskServer) -> None:
    headers = {"Authorization": f"Bearer {offline.keys['alpha']}"}
    async with (httpx2.AsyncClient(headers=headers, timeout=60) as http,
                Client(streamable_http_client(offline.url + MCP_PATH, http_client=http)) as client):
        listed = await client.list_tools()
    assert {tool.name for tool in listed.tools} == TOOLS
    search = next(tool for tool in listed.tools if tool.name == "search")
    assert search.input_schema["required"] == ["query"]
    assert set(search.input_schema["properties"]) == {"query", "top_k", "mode", "collection"}


async def test_search_and_ask_answer_from_the_tenants_documents_with_sources(
    offline: AskServer, world: World,
) -> None:
    alpha_docs = {str(i) for i in world.documents["alpha"].values()}
    found = await _http_call(offline, "alpha", "search", {"query": WARRANTY_QUESTION, "top_k": 3})
    assert not found.is_error, _text(found)
    assert _document_ids(found) and _document_ids(found) <= alpha_docs
    assert str(world.documents["alpha"]["warranty"]) in _document_ids(found)
    assert "warranty.md" in _text(found)

    answered = await _http_call(offline, "alpha", "ask", {"question": WARRANTY_QUESTION})
    assert not answered.is_error, _text(answered)
    assert isinstance(answered.structured_content, dict)
    assert answered.structured_content["meta"]["extractive"] is True
    assert _document_ids(answered, "sources") and _document_ids(answered, "sources") <= alpha_docs
    text = _text(answered)
    assert "[1]" in text and "\n\nSources:\n[1] " in text, text
    assert "two years" in text

    in_finance = await _http_call(offline, "alpha", "search",
                                  {"query": REVENUE_QUESTION, "collection": "finance"})
    assert {hit["collection"] for hit in (in_finance.structured_content or {})["hits"]} == {
        "finance"}


async def test_a_second_tenants_key_sees_none_of_the_firsts_documents(
    offline: AskServer, world: World,
) -> None:
    alpha_docs = {str(i) for i in world.documents["alpha"].values()}
    beta_docs = {str(i) for i in world.documents["beta"].values()}
    found = await _http_call(offline, "beta", "search", {"query": WARRANTY_QUESTION})
    assert not found.is_error and not _document_ids(found) & alpha_docs
    answered = await _http_call(offline, "beta", "ask", {"question": WARRANTY_QUESTION})
    assert not answered.is_error and not _document_ids(answered, "sources") & alpha_docs
    listed = await _http_call(offline, "beta", "list_documents", {})
    assert _document_ids(listed, "items") == beta_docs
    assert (listed.structured_content or {})["total"] == len(beta_docs)

    foreign = await _http_call(offline, "beta", "get_document",
                               {"document_id": str(world.documents["alpha"]["warranty"])})
    assert foreign.is_error
    assert json.loads(_text(foreign))["error"]["code"] == "document_not_found"
    own = await _http_call(offline, "alpha", "get_document",
                           {"document_id": str(world.documents["alpha"]["warranty"])})
    assert not own.is_error and (own.structured_content or {})["filename"] == "warranty.md"


async def test_without_a_valid_key_mcp_is_refused(offline: AskServer) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}}
    accept = {"Accept": "application/json, text/event-stream"}
    for headers in ({}, {"Authorization": "Bearer lk_wrong"}):
        response = httpx.post(offline.url + MCP_PATH, json=initialize,
                              headers={**accept, **headers}, timeout=30)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    with pytest.raises(ExceptionGroup) as refused:  # the SDK client, given the 401, gives up
        async with Client(offline.url + MCP_PATH) as client:
            await client.list_tools()
    assert refused.group_contains(MCPError)


async def test_extract_without_a_model_is_the_apis_error(offline: AskServer) -> None:
    over_http = offline.client("alpha").post(
        "/v1/extract", json={"schema": "receipt", "text": "Total 12.50 EUR"})
    assert over_http.status_code == 503
    refused = await _http_call(offline, "alpha", "extract",
                               {"schema": "receipt", "text": "Total 12.50 EUR"})
    assert refused.is_error
    error = json.loads(_text(refused))["error"]
    assert error["code"] == over_http.json()["error"]["code"] == "no_extractor"
    assert error["message"] == over_http.json()["error"]["message"]
    assert "Traceback" not in _text(refused)

    neither = await _http_call(offline, "alpha", "extract", {"schema": "receipt"})
    assert neither.is_error and json.loads(_text(neither))["error"]["code"] == "validation_error"


def _stdio_env(world: World, **extra: str) -> dict[str, str]:
    env = {**os.environ, "LECTERN_DATABASE_URL": world.database_url, "HF_HUB_OFFLINE": "1",
           **extra}
    env.pop("LECTERN_API_KEY", None)
    env.update(extra)
    return env


async def test_lectern_mcp_serves_the_tools_over_stdio(world: World) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "app.cli.main", "mcp"], cwd=str(REPO),
        env=_stdio_env(world, LECTERN_API_KEY=world.keys["alpha"]))
    async with Client(params) as client:
        listed = await client.list_tools()
        found = await client.call_tool("search", {"query": WARRANTY_QUESTION, "top_k": 3})
        beta_doc = str(world.documents["beta"]["bluebird"])
        foreign = await client.call_tool("get_document", {"document_id": beta_doc})
    assert {tool.name for tool in listed.tools} == TOOLS
    assert not found.is_error, _text(found)
    assert _document_ids(found) <= {str(i) for i in world.documents["alpha"].values()}
    assert str(world.documents["alpha"]["warranty"]) in _document_ids(found)
    assert foreign.is_error and "document_not_found" in _text(foreign)


@pytest.mark.parametrize(("key", "says"), [
    (None, "requires an API key"), ("lk_wrong", "invalid or revoked API key")])
def test_lectern_mcp_refuses_to_start_without_a_valid_key(
    world: World, key: str | None, says: str,
) -> None:
    env = _stdio_env(world, **({"LECTERN_API_KEY": key} if key else {}))
    done = subprocess.run([sys.executable, "-m", "app.cli.main", "mcp"], env=env, cwd=REPO,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1, done.stderr
    assert says in done.stderr
    assert done.stdout == "", "stdout is the protocol channel"
