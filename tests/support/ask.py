"""Helpers of the ask API tests: a seeded database, servers per LLM config, an SSE reader.

Each test starts its own real uvicorn server (in a thread, ~0.1 s) on a container built by
the real composition root with the LLM configuration the test needs, against one database
seeded once per module (tenants `alpha` and `beta`, each with an API key). The embedding
model is loaded once and shared.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from httpx_sse import connect_sse

from app.container import Container, build_container
from app.main import create_app
from app.settings import Settings
from ingest.embedding import Embedder
from pipelines.llm import LLMConfig, parse_config
from tests.support.scripted_openai import ScriptedOpenAI
from tests.support.sockets import loopback_socket


@dataclass(frozen=True)
class World:
    """The seeded database: its URL, the tenants' API keys and document ids by passage key."""

    database_url: str
    keys: dict[str, str]
    documents: dict[str, dict[str, uuid.UUID]]


@dataclass
class AskServer:
    url: str
    container: Container
    keys: dict[str, str]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, tenant: str = "alpha") -> httpx.Client:
        """An HTTP client acting as `tenant` (closed with the server)."""
        made = httpx.Client(base_url=self.url, timeout=30.0,
                            headers={"Authorization": f"Bearer {self.keys[tenant]}"})
        self.clients.append(made)
        return made


@contextmanager
def serve(world: World, embedder: Embedder, config: LLMConfig) -> Iterator[AskServer]:
    """A real server over `world` answering with `config`'s models."""
    container = build_container(Settings(), database_url=world.database_url, with_ocr=False,
                                embedder=embedder, llm_config=config)
    server = uvicorn.Server(uvicorn.Config(create_app(container), log_config=None,
                                           access_log=False, lifespan="off"))
    sock = loopback_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    running = AskServer(f"http://127.0.0.1:{sock.getsockname()[1]}", container, world.keys)
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield running
    finally:
        for client in running.clients:
            client.close()
        server.should_exit = True
        thread.join(10)
        container.close()


def openai_config(server: ScriptedOpenAI, *models: tuple[str, str, float], cache: bool = False,
                  **sections: Any) -> LLMConfig:
    """One OpenAI-compatible provider per (provider, model, input price) on the scripted
    server, cheapest tried first; output costs twice the input price. Cache off by default."""
    raw: dict[str, Any] = {
        "providers": {name: {"kind": "openai", "base_url": server.base_url, "api_key": "k",
                             "timeout_s": 5} for name, _, _ in models},
        "models": [{"id": model, "provider": name, "tier": "mid", "price_in_per_mtok": price,
                    "price_out_per_mtok": 2 * price, "context_tokens": 8192,
                    "max_output_tokens": 256} for name, model, price in models],
        "cache": {"enabled": cache},
    }
    raw.update(sections)
    return parse_config(raw, {})


@dataclass
class Streamed:
    """An `/v1/ask` response read as SSE: (event, data) pairs, or the error body."""

    status: int
    headers: httpx.Headers
    events: list[tuple[str, Any]]
    error: dict[str, Any] | None = None

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    @property
    def text(self) -> str:
        return "".join(data["text"] for name, data in self.events if name == "token")

    def first(self, name: str) -> Any:
        return next(data for event, data in self.events if event == name)


def ask_sse(client: httpx.Client, question: str, **body: Any) -> Streamed:
    """POST /v1/ask with `Accept: text/event-stream` and read every event off the socket."""
    with connect_sse(client, "POST", "/v1/ask", json={"question": question, **body},
                     headers={"Accept": "text/event-stream"}) as source:
        response = source.response
        if response.status_code != 200:
            response.read()
            return Streamed(response.status_code, response.headers, [], response.json())
        events = [(sse.event, json.loads(sse.data)) for sse in source.iter_sse()]
    return Streamed(response.status_code, response.headers, events)
