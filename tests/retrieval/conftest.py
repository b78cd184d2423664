"""Fixtures for retrieval tests: the real MiniLM embedder (loaded once) and the hash fake."""

from __future__ import annotations

import os

import pytest

from ingest.embedding import SentenceTransformerEmbedder, default_model_path
from tests.support.fake_embedder import HashEmbedder


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2 from the offline package (the configured default model)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformerEmbedder(default_model_path())


@pytest.fixture
def hasher() -> HashEmbedder:
    """A deterministic bag-of-words embedder: texts sharing words are similar."""
    return HashEmbedder()
