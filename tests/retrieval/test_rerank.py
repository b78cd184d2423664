"""The reranking seam: hits reordered by a reranker's scores, a local CrossEncoder given a
model path, and the HTTP rerank APIs (Cohere/Jina and TEI shapes) against a scripted server
over a real socket."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingest.embedding import default_model_path
from retrieval.rerank import (
    CrossEncoderReranker,
    HttpReranker,
    RerankFailed,
    apply_reranker,
)
from retrieval.types import Hit
from tests.support.sockets import loopback_socket

TEXTS = ("Revenue grew by 12 percent.", "The warranty lasts two years.",
         "Claims need the receipt.")


def _hits(texts: Sequence[str] = TEXTS) -> list[Hit]:
    return [Hit(chunk_id=i, document_id=uuid.UUID(int=i), filename=f"d{i}.md", collection="c",
                ordinal=0, text=t, section="", section_path=(), page_start=1, page_end=1,
                char_start=0, char_end=len(t), token_count=5, content_hash=str(i),
                score=0.5 - i / 10, vector_score=0.5 - i / 10, text_score=None,
                vector_rank=i + 1, text_rank=None, fused_score=1 / (i + 1), rank=i + 1)
            for i, t in enumerate(texts)]


class Scripted:
    """A rerank API: scores each text by how many words it shares with the query."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail = False

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        words = set(query.lower().split())
        return [float(len(words & set(t.lower().rstrip(".").split()))) for t in texts]

    async def cohere(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.bodies.append(body)
        if self.fail:
            return JSONResponse({"message": "overloaded"}, status_code=503)
        scores = self.scores(body["query"], body["documents"])
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])[: body["top_n"]]
        return JSONResponse({"results": [{"index": i, "relevance_score": scores[i]}
                                         for i in ranked]})

    async def tei(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.bodies.append(body)
        scores = self.scores(body["query"], body["texts"])
        return JSONResponse([{"index": i, "score": s} for i, s in enumerate(scores)])


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[str, Scripted]]:
    scripted = Scripted()
    app = Starlette(routes=[Route("/v1/rerank", scripted.cohere, methods=["POST"]),
                            Route("/rerank", scripted.tei, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    sock = loopback_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", scripted
    server.should_exit = True
    thread.join(5)


async def test_cohere_shape_reorders_the_hits(api: tuple[str, Scripted]) -> None:
    url, scripted = api
    reranker = HttpReranker(f"{url}/v1/rerank", model="rerank-small", api_key="k")
    hits = await apply_reranker(reranker, "how long is the warranty", _hits())
    await reranker.aclose()
    assert hits[0].text == "The warranty lasts two years."
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score == pytest.approx(0.4)  # scores, not order, stay
    assert scripted.bodies[-1] == {"query": "how long is the warranty", "documents": list(TEXTS),
                                   "top_n": 3, "model": "rerank-small"}


async def test_tei_shape(api: tuple[str, Scripted]) -> None:
    url, scripted = api
    reranker = HttpReranker(f"{url}/rerank", api="tei")
    hits = await apply_reranker(reranker, "claims need receipt", _hits())
    await reranker.aclose()
    assert hits[0].text == "Claims need the receipt."
    assert json.dumps(scripted.bodies[-1]) == json.dumps(
        {"query": "claims need receipt", "texts": list(TEXTS)})


async def test_a_failing_api_is_a_typed_error(api: tuple[str, Scripted]) -> None:
    url, scripted = api
    scripted.fail = True
    reranker = HttpReranker(f"{url}/v1/rerank")
    try:
        with pytest.raises(RerankFailed, match="503"):
            await apply_reranker(reranker, "q", _hits())
    finally:
        scripted.fail = False
        await reranker.aclose()
    unreachable = HttpReranker("http://127.0.0.1:9/rerank", timeout_s=2)
    with pytest.raises(RerankFailed):
        await apply_reranker(unreachable, "q", _hits())
    await unreachable.aclose()


async def test_a_local_cross_encoder_orders_by_its_own_scores() -> None:
    """Any sequence-classification checkpoint works; the bundled MiniLM (an untrained head)
    shows the seam loads offline and orders by the model's scores."""
    reranker = CrossEncoderReranker(str(default_model_path()))
    query = "how long is the warranty"
    scores = await reranker.rerank(query, TEXTS)
    hits = await apply_reranker(reranker, query, _hits())
    expected = [TEXTS[i] for i in sorted(range(3), key=lambda i: -scores[i])]
    assert [h.text for h in hits] == expected and len(set(scores)) == 3
