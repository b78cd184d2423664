"""Which reranker the settings build: none by default, a rerank API from its URL."""

from __future__ import annotations

import pytest

from app.container import reranking_from
from app.settings import SearchSettings, Settings
from retrieval.rerank import HttpReranker


def test_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LECTERN_SEARCH_RERANK_URL", "LECTERN_SEARCH_RERANK_MODEL_PATH"):
        monkeypatch.delenv(name, raising=False)
    assert reranking_from(Settings(search=SearchSettings())) is None


def test_a_rerank_api_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LECTERN_SEARCH_RERANK_URL", "http://127.0.0.1:9/rerank")
    monkeypatch.setenv("LECTERN_SEARCH_RERANK_API", "tei")
    monkeypatch.setenv("LECTERN_SEARCH_RERANK_DEPTH", "12")
    reranking = reranking_from(Settings(search=SearchSettings()))
    assert reranking is not None and reranking.depth == 12
    assert isinstance(reranking.reranker, HttpReranker)
