"""Reranking: a second, finer ordering of the fused hits by a model that reads query and
passage together.

`Reranker` is the seam: `rerank(query, texts)` returns one relevance score per text, higher
is better. `apply_reranker` reorders hits by those scores (ties keep their fused order) and
renumbers `rank`; `score`, and so `min_score`, are untouched, so reranking changes order,
never which hits pass the threshold. Two implementations:

- `CrossEncoderReranker`: a local sentence-transformers `CrossEncoder` from a model path
  (no hub access), run in a worker thread.
- `HttpReranker`: a rerank API: the Cohere/Jina shape (`POST {url}` with `{"model", "query",
  "documents", "top_n"}` → `{"results": [{"index", "relevance_score"}]}`) or Hugging Face
  TEI's (`{"query", "texts"}` → `[{"index", "score"}]`).

Off by default: retrieval without a reranker is unchanged.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from retrieval.errors import RetrievalError
from retrieval.types import Hit

RerankApi = Literal["cohere", "tei"]


class RerankFailed(RetrievalError):
    """The reranker could not score the hits (unreachable API, bad answer, model error)."""

    code = "rerank_failed"
    http_status = 502


class Reranker(Protocol):
    """Scores passages for a query; one score per text, in the texts' order."""

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True)
class Reranking:
    """A reranker and how deep it looks: the search fetches `depth` fused hits (at least the
    request's `top_k`), the reranker reorders them, the first `top_k` are returned."""

    reranker: Reranker
    depth: int = 30


async def apply_reranker(reranker: Reranker, query: str, hits: Sequence[Hit]) -> list[Hit]:
    """`hits` reordered by `reranker`'s scores (stable), with `rank` renumbered from 1."""
    if len(hits) < 2:
        return list(hits)
    scores = await reranker.rerank(query, [h.text for h in hits])
    if len(scores) != len(hits):
        raise RerankFailed(f"the reranker returned {len(scores)} scores for {len(hits)} hits")
    order = sorted(range(len(hits)), key=lambda i: -scores[i])
    return [dataclasses.replace(hits[i], rank=rank) for rank, i in enumerate(order, 1)]


class CrossEncoderReranker:
    """A local cross-encoder (sentence-transformers), loaded once from `model_path`."""

    def __init__(self, model_path: str, *, batch_size: int = 16) -> None:
        from sentence_transformers import CrossEncoder

        self._model = CrossEncoder(model_path, local_files_only=True)
        self._batch_size = batch_size

    def _scores(self, query: str, texts: Sequence[str]) -> list[float]:
        predicted = self._model.predict([(query, t) for t in texts],
                                        batch_size=self._batch_size, show_progress_bar=False)
        return [float(s) for s in predicted]

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        return await asyncio.to_thread(self._scores, query, texts)


class HttpReranker:
    """A rerank API over HTTP (see the module docstring for the request shapes)."""

    def __init__(self, url: str, *, api: RerankApi = "cohere", model: str | None = None,
                 api_key: str | None = None, timeout_s: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout_s, transport=transport)
        self._url, self._api, self._model = url, api, model

    def _body(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        if self._api == "tei":
            return {"query": query, "texts": list(texts)}
        body: dict[str, Any] = {"query": query, "documents": list(texts), "top_n": len(texts)}
        return body | ({"model": self._model} if self._model else {})

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        try:
            response = await self._client.post(self._url, json=self._body(query, texts))
            response.raise_for_status()
            payload = response.json()
            items = payload if self._api == "tei" else payload["results"]
            key = "score" if self._api == "tei" else "relevance_score"
            scores = [float("-inf")] * len(texts)
            for item in items:
                scores[int(item["index"])] = float(item[key])
        except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise RerankFailed(f"the rerank API at {self._url} failed: "
                               f"{type(exc).__name__}: {exc}"[:300]) from None
        return scores

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
