"""The server children of `bench.query` (`python -m bench.query serve|scripted ...`).

Each writes the port it listens on to a file its parent waits for (`bench.processes`):
- `serve_scripted`: the tests' scripted OpenAI-protocol server, streaming word pieces;
- `serve_lectern`: the real app on uvicorn, with a zero-latency or slow `FakeProvider` or the
  scripted server as its model, an event-loop lag ticker, and two bench routes
  (`/_bench/ping` for an HTTP round trip, `/_bench/lag` to read the ticker's lags).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from bench.streams import lag_ticker


def serve_scripted(port_file: Path, tokens: int, delay: float) -> None:
    """Child: the tests' scripted OpenAI-protocol server, streaming `tokens` pieces."""
    from tests.support import scripted_openai as so

    server = so.ScriptedOpenAI(models=("bench-model",))
    words = [f"word{n % 97}" for n in range(tokens)]
    server.default = so.text(" ".join(words), chunk_delay_s=delay)
    server.start()
    stop = asyncio.Event()
    port_file.write_text(str(server.port))

    async def wait() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()

    asyncio.run(wait())
    server.stop()


def serve_lectern(port_file: Path, database_url: str, provider: str, openai_url: str | None,
                  tokens: int, delay: float) -> None:
    """Child: the real app on uvicorn, with an event-loop lag ticker and two bench routes."""
    import uvicorn
    from fastapi import APIRouter

    from app.container import build_container
    from app.main import create_app
    from app.settings import Settings
    from pipelines.llm import ChatProvider, FakeProvider, FakeStream, parse_config

    base_url = openai_url or "http://127.0.0.1:9/v1"
    raw = {"providers": {"bench": {"kind": "openai", "base_url": base_url, "api_key": "k",
                                   "timeout_s": 120}},
           "models": [{"id": "bench-model", "provider": "bench", "tier": "mid",
                       "price_in_per_mtok": 0.1, "price_out_per_mtok": 0.2,
                       "context_tokens": 16384, "max_output_tokens": 256,
                       "tasks": ["answer"]}],
           "cache": {"enabled": False}}
    providers: dict[str, ChatProvider] | None = None
    if provider == "fake":  # zero latency, or `delay` seconds before each token
        reply = " ".join(f"word{n % 97}" for n in range(tokens))
        scripted = [FakeStream(reply, delay_s=delay)] * 100_000 if delay else []
        providers = {"bench": FakeProvider("bench", scripted, default_reply=reply)}
    container = build_container(Settings(), database_url=database_url, with_ocr=False,
                                llm_config=parse_config(raw, {}), llm_providers=providers)
    app = create_app(container)
    lags: list[float] = []
    bench = APIRouter(prefix="/_bench")

    @bench.get("/ping")
    async def ping() -> dict[str, str]:
        return {}

    @bench.post("/lag")
    async def lag(reset: bool = False) -> dict[str, Any]:
        values = list(lags)
        if reset:
            lags.clear()
        return {"ticks": len(values), "lag_s": values}

    app.include_router(bench)

    async def main() -> None:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                               access_log=False, lifespan="off"))
        tick = asyncio.create_task(lag_ticker(lags))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        port_file.write_text(str(port))
        await serving
        tick.cancel()

    try:
        asyncio.run(main())
    finally:
        container.close()
