"""The composition root's start-up checks, on a real database with the model faked at the
`Embedder` seam."""

from __future__ import annotations

import pytest

import app.container_llm
from app.container import build_container
from app.settings import EmbeddingSettings, Settings, SettingsError
from tests.support.fake_embedder import HashEmbedder

MISMATCH = ("LECTERN_EMBEDDING_MODEL='/models/e5-base': the model makes 768-dimensional "
            "vectors, but the corpus schema stores 384 dimensions; choose a model with 384 "
            "dimensions (or unset it for the bundled one)")


def test_a_model_of_another_dimension_is_refused_at_start_up(database_url: str) -> None:
    settings = Settings(embedding=EmbeddingSettings(model="/models/e5-base"))
    with pytest.raises(SettingsError) as caught:
        build_container(settings, database_url=database_url, with_ocr=False,
                        embedder=HashEmbedder(dimension=768))
    assert str(caught.value) == MISMATCH


def test_a_model_of_the_schema_dimension_is_accepted(database_url: str) -> None:
    container = build_container(Settings(), database_url=database_url, with_ocr=False,
                                embedder=HashEmbedder(dimension=384))
    container.close()


def test_the_token_counter_is_loaded_while_the_container_is_built(
    database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[str] = []

    def warm_up() -> str:
        loads.append("both vocabularies")
        return "bpe-openai"

    monkeypatch.setattr(app.container_llm, "warm_up", warm_up)
    container = build_container(Settings(), database_url=database_url, with_ocr=False,
                                embedder=HashEmbedder())
    container.close()
    assert loads == ["both vocabularies"], "before any request counts a token"
