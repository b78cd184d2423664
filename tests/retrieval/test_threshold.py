"""The calibrated default threshold is looked up by model name and never guessed."""

from __future__ import annotations

import pytest

from ingest.embedding import default_model_path
from retrieval.threshold import DEFAULT_MIN_SCORE, default_min_score


def test_the_default_embedder_resolves_to_the_calibrated_threshold() -> None:
    assert default_min_score(str(default_model_path())) == DEFAULT_MIN_SCORE
    assert default_min_score("sentence-transformers/all-MiniLM-L6-v2") == DEFAULT_MIN_SCORE
    assert 0.0 < DEFAULT_MIN_SCORE < 1.0


def test_an_uncalibrated_model_is_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(LookupError, match="all-minilm-l6-v2"):
        default_min_score("BAAI/bge-small-en-v1.5")
