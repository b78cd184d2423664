"""A webhook receiver on 127.0.0.1 for the webhook tests: a Starlette app in a uvicorn thread
that answers each POST with the next scripted status (200 once the script is spent) and keeps
every request it received."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.sockets import loopback_socket


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it: the raw body and the headers (lower-case names)."""

    body: bytes
    headers: dict[str, str]


class Receiver:
    """Serves `POST /hook`; use as a context manager (`url` is valid inside it)."""

    def __init__(self, *statuses: int) -> None:
        self.received: list[Received] = []
        self._statuses = deque(statuses)
        self._lock = threading.Lock()
        self._sock = loopback_socket()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/hook"
        config = uvicorn.Config(Starlette(routes=[Route("/hook", self._hook, methods=["POST"])]),
                                log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="webhook-receiver", daemon=True)

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.received.append(Received(body, dict(request.headers)))
            status = self._statuses.popleft() if self._statuses else 200
        return Response(status_code=status)

    def __enter__(self) -> Receiver:
        self._thread.start()
        deadline = time.monotonic() + 5.0
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError("the webhook receiver did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5.0)
        self._sock.close()
