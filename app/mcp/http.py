"""MCP over streamable HTTP at `/mcp` on the API app, behind the same Bearer keys as `/v1/`.

`mount(app, container)` adds one plain Starlette route (no OpenAPI entry) whose ASGI app is
`McpEndpoint`. The route sits behind `app.middleware.AuthGateMiddleware`, which covers
`MCP_PATH` as it covers `/v1/`: a request without a valid key is 401 before the SDK sees it,
and the tools act for the tenant the gate decided (`app.mcp.server.http_tenant`).

The transport is stateless with JSON responses: every POST is served whole on its own, with
no session kept in the process, so any `serve --workers N` process can answer any request and
each call is authenticated by its own key. The SDK's session manager still needs a running
task group (`StreamableHTTPSessionManager.run()`), which the SDK expects an app lifespan to
hold; lectern's tests serve the app with `lifespan="off"`, so `McpEndpoint` enters it itself
on the first request, in a task of the serving event loop that lives as long as the loop
(cancelled when the server's loop ends). A manager runs only once, so a request on another
event loop (another server of the same app) gets a fresh manager, which costs nothing without
sessions. While lectern listens on a loopback address the SDK's DNS-rebinding guard is on
(Host and Origin must be loopback), as the SDK sets it for its own servers.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.container import Container
from app.mcp.server import build_server, http_tenant

MCP_PATH = "/mcp"
"""Where the streamable HTTP transport is served (the auth gate covers it)."""


@dataclass
class _Running:
    """A session manager whose `run()` is held open by `task` on `loop`."""

    loop: asyncio.AbstractEventLoop
    manager: StreamableHTTPSessionManager
    ready: asyncio.Future[None]
    task: asyncio.Task[None]


class McpEndpoint:
    """The ASGI app of the streamable HTTP transport: starts the SDK's session manager on
    the serving event loop when first needed, then hands each request to it."""

    def __init__(self, server: MCPServer, *, host: str) -> None:
        self.server = server
        self.host = host
        self._running: _Running | None = None
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        running = self._manager_on(asyncio.get_running_loop())
        await asyncio.shield(running.ready)
        await running.manager.handle_request(scope, receive, send)

    def _manager_on(self, loop: asyncio.AbstractEventLoop) -> _Running:
        """The manager running on `loop`, started now if there is none (or it stopped)."""
        with self._lock:
            running = self._running
            if running is None or running.loop is not loop or running.task.done():
                self.server.streamable_http_app(stateless_http=True, json_response=True,
                                                host=self.host)
                manager = self.server.session_manager
                ready: asyncio.Future[None] = loop.create_future()
                task = loop.create_task(_hold(manager, ready), name="lectern-mcp-sessions")
                running = self._running = _Running(loop, manager, ready, task)
            return running


async def _hold(manager: StreamableHTTPSessionManager, ready: asyncio.Future[None]) -> None:
    """Keep `manager.run()` entered until this task is cancelled; `ready` says it started
    (or carries the error it failed to start with, to every waiting request)."""
    try:
        async with manager.run():
            ready.set_result(None)
            await asyncio.Event().wait()
    except BaseException as exc:
        if not ready.done():
            ready.set_exception(RuntimeError(f"the MCP session manager did not start: {exc!r}"))
        raise


def mount(app: FastAPI, container: Container) -> None:
    """Serve the MCP tools over streamable HTTP at `MCP_PATH` on `app`."""
    server = build_server(container, http_tenant)
    endpoint = McpEndpoint(server, host=container.settings.web.host)
    app.router.routes.append(Route(MCP_PATH, endpoint=endpoint))
