"""A scripted OpenAI-protocol HTTP server for tests, on a free loopback port.

Why: adapters, the router, answering and extraction are tested through the real `openai` SDK
over a real socket, with the failures real endpoints produce (5xx, 429, timeouts, dropped
connections, broken chunks), scripted per test.

Usage::

    from tests.support import scripted_openai as so

    with so.scripted_openai_server() as server:      # or the `scripted_openai` fixture
        server.script(so.text("Paris is the capital."), so.error(500))
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        ...
        assert server.requests[0].body["model"] == "m"

`tool_calls(("get_weather", '{"city": "Paris"}'), ...)` replies with function calls (whole: on
the message, finish reason `tool_calls`; streamed: OpenAI's `delta.tool_calls` pieces, the id
and name first, then the arguments in word pieces). Every request's JSON body is kept in
`server.requests` (tools, tool_choice, stop, messages with their tool_call_id, ...).

Replies are consumed one per `POST .../chat/completions`, first from the queue of the request's
model (`server.script(..., model="m")`), then from the shared queue, then `server.default`.
Routes: `POST /v1/chat/completions`, `POST /openai/deployments/{name}/chat/completions` (Azure
style, `base_url` is `server.root_url` there), `GET /v1/models` (lists `server.models`).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.sockets import loopback_socket

UsageSpec = tuple[int, int] | Literal["auto"] | None


@dataclass(frozen=True)
class Reply:
    """One scripted reply; build it with `text`, `error`, `timeout`, ... rather than directly."""

    kind: Literal["text", "error", "timeout", "disconnect", "malformed", "structured",
                  "tool_calls"]
    content: str = ""
    status: int = 200
    retry_after: float | None = None
    delay_s: float = 0.0
    after_chunks: int = 0
    chunk_delay_s: float = 0.0
    usage: UsageSpec = "auto"
    finish_reason: str = "stop"
    calls: tuple[tuple[str, str, str], ...] = ()  # (id, function name, arguments)


def text(content: str, *, usage: UsageSpec = "auto", finish_reason: str = "stop",
         chunk_delay_s: float = 0.0) -> Reply:
    """A normal reply, streamed in word pieces. `usage=(prompt, completion)`; None omits it;
    "auto" reports (words in the request messages, number of pieces)."""
    return Reply("text", content, usage=usage, finish_reason=finish_reason,
                 chunk_delay_s=chunk_delay_s)


def error(status: int, message: str = "scripted error", *, retry_after: float | None = None
          ) -> Reply:
    """An HTTP error with an OpenAI error body (and a `retry-after` header if given)."""
    return Reply("error", message, status=status, retry_after=retry_after)


def timeout(delay_s: float = 5.0, content: str = "too late") -> Reply:
    """Say nothing for `delay_s` (longer than the client's timeout), then reply `content`."""
    return Reply("timeout", content, delay_s=delay_s)


def disconnect(after_chunks: int = 2, content: str = "this reply is cut off midway") -> Reply:
    """Stream `after_chunks` content pieces, then drop the connection (a non-streamed request
    gets the response headers, then the drop)."""
    return Reply("disconnect", content, after_chunks=after_chunks)


def malformed(after_chunks: int = 1, content: str = "broken reply here") -> Reply:
    """Stream `after_chunks` pieces, then a `data:` line that is not JSON (non-streamed: a
    200 response whose body is not JSON)."""
    return Reply("malformed", content, after_chunks=after_chunks)


def structured(obj: Any, *, usage: UsageSpec = "auto") -> Reply:
    """Reply with `obj` as JSON: as a tool call if the request offered tools, else as text."""
    return Reply("structured", json.dumps(obj), usage=usage)


def tool_calls(*calls: tuple[str, str], content: str = "", usage: UsageSpec = "auto",
               ids: tuple[str, ...] = ()) -> Reply:
    """Reply with function calls, each `(name, arguments JSON text)`, with ids `ids` (default
    call_1, call_2, ...), after `content` (usually none); "auto" usage counts the argument
    pieces as the completion."""
    named = tuple((ids[i] if i < len(ids) else f"call_{i + 1}", name, arguments)
                  for i, (name, arguments) in enumerate(calls))
    return Reply("tool_calls", content, usage=usage, finish_reason="tool_calls", calls=named)


@dataclass
class RecordedRequest:
    """A chat request the server received: path, query, lower-cased headers, JSON body, and
    for a streamed reply how many chunks went out (it stops growing once the client hangs up).
    """

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    chunks_sent: int = 0


class ScriptedOpenAI:
    """The server. Start with `start()` / `stop()` or use `scripted_openai_server()`."""

    def __init__(self, *, models: tuple[str, ...] = ("scripted-model",)) -> None:
        self.models = models
        self.default: Reply = text("This is the scripted default reply.")
        self.requests: list[RecordedRequest] = []
        self._queues: dict[str | None, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._sock = loopback_socket()
        self.port: int = self._sock.getsockname()[1]
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root_url}/v1"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- the test-facing API -------------------------------------------------------------
    def script(self, *replies: Reply, model: str | None = None) -> None:
        """Queue replies, for requests naming `model` or (None) for any request."""
        with self._lock:
            self._queues.setdefault(model, deque()).extend(replies)

    def reset(self) -> None:
        """Forget queued replies and recorded requests; restore the default reply."""
        with self._lock:
            self._queues.clear()
            self.requests.clear()
        self.default = text("This is the scripted default reply.")

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent chat request (AssertionError if none arrived)."""
        assert self.requests, "the scripted server received no request"
        return self.requests[-1]

    def pending(self) -> int:
        """How many scripted replies are still queued."""
        return sum(len(q) for q in self._queues.values())

    def start(self) -> None:
        """Serve in a background thread; returns once the port accepts connections."""
        post = ["POST"]
        routes = [Route("/v1/chat/completions", self._chat, methods=post),
                  Route("/openai/deployments/{name}/chat/completions", self._chat, methods=post),
                  Route("/v1/models", self._models, methods=["GET"])]
        config = uvicorn.Config(Starlette(routes=routes), log_config=None, access_log=False,
                                lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"scripted-openai-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5.0
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError("scripted OpenAI server did not start")

    def stop(self) -> None:
        """Stop serving; sleeping `timeout` replies are cut short."""
        self._closing.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._sock.close()

    # -- the HTTP side -------------------------------------------------------------------
    def _next_reply(self, model: str | None) -> Reply:
        with self._lock:
            queue = self._queues.get(model) or self._queues.get(None)
            return queue.popleft() if queue else self.default

    async def _models(self, request: Request) -> Response:
        data = [{"id": m, "object": "model", "owned_by": "scripted"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _chat(self, request: Request) -> Response:
        body = json.loads(await request.body())
        recorded = RecordedRequest(request.url.path, dict(request.query_params),
                                   dict(request.headers.items()), body)
        with self._lock:
            self.requests.append(recorded)
        reply = self._next_reply(body.get("model"))
        if reply.kind == "error":
            headers = {} if reply.retry_after is None else {"retry-after": f"{reply.retry_after:g}"}
            err = {"message": reply.content, "type": "scripted_error", "code": str(reply.status)}
            return JSONResponse({"error": err}, reply.status, headers)
        if reply.kind == "timeout":
            await self._sleep(reply.delay_s)
        if body.get("stream"):
            return StreamingResponse(self._sse(recorded, reply), media_type="text/event-stream")
        if reply.kind == "disconnect":  # headers go out, then the connection drops
            return StreamingResponse(_drop(), media_type="application/json")
        if reply.kind == "malformed":
            return Response("{not json", media_type="application/json")
        return JSONResponse(_completion(body, reply))

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._closing.is_set():
            await asyncio.sleep(0.02)

    async def _sse(self, recorded: RecordedRequest, reply: Reply) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(_chunks(recorded.body, reply)):
            if reply.kind in ("disconnect", "malformed") and index == reply.after_chunks + 1:
                if reply.kind == "disconnect":
                    raise ScriptedDisconnect("scripted disconnect mid-stream")
                yield b'data: {"id": "broken", "choices": [\n\n'
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            recorded.chunks_sent += 1  # resumed: the chunk was written to the connection
            if reply.chunk_delay_s:
                await self._sleep(reply.chunk_delay_s)
        yield b"data: [DONE]\n\n"


class ScriptedDisconnect(Exception):
    """Raised inside the app so that uvicorn drops the connection mid-response."""


async def _drop() -> AsyncIterator[bytes]:
    for _ in ():  # an async generator that fails at its first step
        yield b""
    raise ScriptedDisconnect("scripted disconnect before the body")


def _pieces(content: str) -> list[str]:
    return re.findall(r"\s*\S+", content) + ([m] if (m := content[len(content.rstrip()):]) else [])


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int] | None:
    if reply.usage is None:
        return None
    if reply.usage == "auto":
        words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        prompt, completion = words, len(_pieces(reply.content))
        if reply.kind == "tool_calls":
            completion += sum(len(_pieces(arguments)) for _, _, arguments in reply.calls)
    else:
        prompt, completion = reply.usage
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _wants_tool(body: dict[str, Any], reply: Reply) -> str | None:
    tools = body.get("tools") if reply.kind == "structured" else None
    return str(tools[0]["function"]["name"]) if tools else None


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    tool = _wants_tool(body, reply)
    message: dict[str, Any] = {"role": "assistant", "content": None if tool else reply.content}
    finish = reply.finish_reason
    if reply.kind == "tool_calls":
        message["content"] = reply.content or None
        message["tool_calls"] = [{"id": call_id, "type": "function",
                                  "function": {"name": name, "arguments": arguments}}
                                 for call_id, name, arguments in reply.calls]
    if tool:
        message["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": tool, "arguments": reply.content}}]
        finish = "tool_calls"
    out: dict[str, Any] = {"id": "chatcmpl-scripted", "object": "chat.completion", "created": 0,
                           "model": body.get("model", ""),
                           "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if (usage := _usage(body, reply)) is not None:
        out["usage"] = usage
    return out


def _chunks(body: dict[str, Any], reply: Reply) -> Iterator[dict[str, Any]]:
    base = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0,
            "model": body.get("model", "")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    tool = _wants_tool(body, reply)
    for piece in _pieces(reply.content):
        if tool:
            yield chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                         "function": {"name": tool, "arguments": piece}}]})
        else:
            yield chunk({"content": piece})
    for index, (call_id, name, arguments) in enumerate(reply.calls):
        yield chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                     "function": {"name": name, "arguments": ""}}]})
        for piece in _pieces(arguments):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if tool else reply.finish_reason)
    include = (body.get("stream_options") or {}).get("include_usage")
    if include and (usage := _usage(body, reply)) is not None:
        yield {**base, "choices": [], "usage": usage}


@contextmanager
def scripted_openai_server(*, models: tuple[str, ...] = ("scripted-model",)
                           ) -> Iterator[ScriptedOpenAI]:
    """Start a `ScriptedOpenAI` for the duration of a `with` block (importable from any test
    directory; `tests/llm/conftest.py` wraps it as the `scripted_openai` fixture)."""
    server = ScriptedOpenAI(models=models)
    server.start()
    try:
        yield server
    finally:
        server.stop()
