"""The real sentence-transformers embedder (loaded once per process) and the hash fake."""

from __future__ import annotations

import functools
import math

import pytest

from ingest.embedding import (
    Embedder,
    EmbedderUnavailable,
    SentenceTransformerEmbedder,
    default_model_path,
)
from tests.support.fake_embedder import HashEmbedder


@functools.cache
def load_real_embedder() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once per test process (shared with chunking tests)."""
    return SentenceTransformerEmbedder(default_model_path())


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return load_real_embedder()


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_real_embedder_shape_and_unit_norm(embedder: SentenceTransformerEmbedder) -> None:
    seam: Embedder = embedder
    assert (seam.dimension, seam.max_tokens) == (384, 256)
    vectors = seam.embed(["first text", "second text", "third"])
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    assert all(math.isclose(math.sqrt(_cosine(v, v)), 1.0, rel_tol=1e-4) for v in vectors)
    assert seam.embed([]) == []


def test_real_embedder_related_beats_unrelated(embedder: SentenceTransformerEmbedder) -> None:
    query, related, unrelated = embedder.embed(
        [
            "How much did revenue grow last year?",
            "Annual sales increased by twelve percent compared to the previous year.",
            "The cat slept on the warm windowsill all afternoon.",
        ]
    )
    assert _cosine(query, related) > _cosine(query, unrelated) + 0.2


def test_token_count_matches_the_model_tokenizer(embedder: SentenceTransformerEmbedder) -> None:
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(default_model_path()))
    text = "Tokenisation of state-of-the-art models: 3.50 EUR, naïve café. " * 40
    expected = len(reference(text, add_special_tokens=True, truncation=False)["input_ids"])
    assert expected > 256  # long texts are counted in full, never truncated
    assert embedder.count_tokens(text) == expected
    assert embedder.count_tokens("") == 2


def test_unloadable_model_raises_a_clear_error(tmp_path: object) -> None:
    missing = f"{tmp_path}/no-such-model"
    with pytest.raises(EmbedderUnavailable) as info:
        SentenceTransformerEmbedder(missing)
    assert missing in info.value.message and info.value.details == {"model": missing}
    assert info.value.code == "embedder_unavailable"


def test_hash_embedder_is_deterministic_and_similarity_follows_words() -> None:
    fake: Embedder = HashEmbedder(dimension=384)
    a, b, c = fake.embed(
        ["revenue grew in the north", "revenue grew in the south", "cats sleep on mats"]
    )
    assert len(a) == 384 and math.isclose(_cosine(a, a), 1.0)
    assert _cosine(a, b) > 0.5 > _cosine(a, c)
    assert HashEmbedder().embed(["revenue grew in the north"]) == [a]
    assert fake.count_tokens("two words") == 4
