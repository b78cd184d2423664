"""Part 2 of `bench.query`: time to first token through the app against the raw provider.

The app runs in a server child (`python -m bench.query serve`, retrieval over the benchmark
corpus) with a zero-latency `FakeProvider`; the difference to the provider's own time to first
token is lectern's overhead, split into retrieval, what follows it inside `answer()`, and what
lies outside it (HTTP, auth, session, SSE). The query embedding and the hybrid search alone are
timed in this process too, to show where the overhead goes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from bench.common import format_table
from bench.corpus import TENANT, questions
from bench.processes import free_port_file, start_child, stop_child
from bench.streams import Stream, ask_stream
from bench.timing import percentile


def ttft_part(engine: Engine, url: str, tmp: Path, samples: int, tokens: int) -> dict[str, Any]:
    """Time to first token through the app with a zero-latency provider vs the raw provider."""
    import httpx
    from sqlalchemy.orm import Session

    from bench.common import load_embedder
    from retrieval.search import search

    qs = questions()
    port_file = free_port_file(tmp, "lectern-fake")
    child, port = start_child(["serve", str(port_file), "--database-url", url,
                               "--provider", "fake", "--tokens", str(tokens)], port_file)
    try:
        async def run() -> tuple[list[Stream], list[float]]:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                         timeout=60.0) as client:
                for q in qs[:5]:  # warm-up: model, pool, prepared statements
                    await ask_stream(client, q, 4)
                streams, pings = [], []
                for q in qs[5 : 5 + samples]:
                    streams.append(await ask_stream(client, q, 4))
                    started = time.perf_counter()
                    await client.get("/_bench/ping")
                    pings.append(time.perf_counter() - started)
                return streams, pings

        streams, pings = asyncio.run(run())
    finally:
        stop_child(child)
    raw = asyncio.run(raw_provider_ttft(samples, tokens))
    # The pieces of retrieval, timed here on the same machine.
    embedder = load_embedder()
    embedder.embed(["warm-up"])
    embed_s, search_s = [], []
    for q in qs[5 : 5 + samples]:
        started = time.perf_counter()
        vector = embedder.embed([q])[0]
        embed_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        with Session(engine) as session:
            search(session, tenant=TENANT, query_text=q, query_vector=vector, mode="hybrid",
                   top_k=4, min_score=-1.0)
        search_s.append(time.perf_counter() - started)
    errors = [s.error for s in streams if s.error]
    ttfts = [s.ttft for s in streams if s.ttft is not None]
    server_ttft = [float(s.server_ttft_ms) / 1000 for s in streams if s.server_ttft_ms is not None]
    retrieval = [float(s.retrieval_ms) / 1000 for s in streams if s.retrieval_ms is not None]

    def ms(values: Sequence[float], q: float) -> float:
        return round(percentile(values, q) * 1000, 2)

    parts = {
        "app_ttft_ms (client, over HTTP)": ttfts,
        "raw_provider_ttft_ms": raw,
        "server_ttft_ms (answer() start to first token)": server_ttft,
        "server_retrieval_ms (embed + search in the request)": retrieval,
        "http_roundtrip_ms (GET /_bench/ping)": pings,
        "query_embedding_ms (alone, bench process)": embed_s,
        "hybrid_search_top4_ms (alone, bench process)": search_s,
    }
    out: dict[str, Any] = {"samples": samples, "errors": errors}
    for name, values in parts.items():
        out[name.split(" ")[0]] = {"p50": ms(values, 50), "p95": ms(values, 95)}
    print(format_table(("time to first token / part", "p50 ms", "p95 ms"),
                       [(name, ms(v, 50), ms(v, 95)) for name, v in parts.items()]))
    app, srv, ret = (percentile(v, 50) for v in (ttfts, server_ttft, retrieval))
    overhead = app - percentile(raw, 50)
    out["overhead_p50_ms"] = round(overhead * 1000, 2)
    out["overhead_split_p50_ms"] = {"retrieval": round(ret * 1000, 2),
                                    "after_retrieval": round((srv - ret) * 1000, 2),
                                    "outside_answer": round((app - srv) * 1000, 2)}
    print(f"  overhead to first token (app − raw provider), p50 {overhead * 1000:.1f} ms: "
          f"retrieval {ret * 1000:.1f} + prompt/router/provider start {(srv - ret) * 1000:.1f} "
          f"+ HTTP/auth/session/SSE outside answer() {(app - srv) * 1000:.1f} ms "
          f"(p50s, so the parts add up only roughly); errors {len(errors)}")
    return out


async def raw_provider_ttft(samples: int, tokens: int) -> list[float]:
    """The zero-latency FakeProvider's own time to first token, called directly."""
    from pipelines.llm import ChatRequest, FakeProvider, Message

    reply = " ".join(f"word{n % 97}" for n in range(tokens))
    provider = FakeProvider("bench", default_reply=reply)
    request = ChatRequest(messages=(Message("user", "question"),), model="bench-model")
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        stream = provider.stream(request)
        await anext(stream)
        out.append(time.perf_counter() - started)
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator in fact
    return out
