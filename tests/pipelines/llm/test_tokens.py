"""Token counting: exact OpenAI counts offline through bpe-openai, and a fallback that errs high."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipelines.llm import tokens
from pipelines.llm.types import Message

SAMPLES = [
    "The quick brown fox jumps over the lazy dog.",
    "def f(x):\n    return x**2 + 3*x - 1",
    "Größenordnung – Übersicht über 12.345,67 €",
    "東京は日本の首都です。",
    '{"a": [1, 2, 3], "b": null}',
    "https://example.com/path?q=1&x=2",
    "antidisestablishmentarianism internationalization",
]


@pytest.fixture
def without_bpe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if bpe-openai were not installed."""
    tokens._counter.cache_clear()
    monkeypatch.setattr(tokens, "_bpe_bindings", lambda: None)
    yield
    tokens._counter.cache_clear()


def test_backend_is_bpe_openai_here() -> None:
    assert tokens.warm_up() == "bpe-openai"


@pytest.mark.parametrize(("text", "model", "expected"), [
    ("hello world", "gpt-4", 2),               # cl100k ids 15339, 1917, as tiktoken gives
    ("tiktoken is great!", "gpt-3.5-turbo", 6),
    ("hello world, ça va?", "gpt-4o-mini", 6),  # o200k
    ("", "gpt-4o", 0),
])
def test_exact_counts_match_tiktoken(text: str, model: str, expected: int) -> None:
    assert tokens.count_tokens(text, model) == expected


def test_model_names_map_to_encodings() -> None:
    assert tokens.encoding_for_model("gpt-4o-2024-08-06") == "o200k_base"
    assert tokens.encoding_for_model("openai/gpt-4.1-mini") == "o200k_base"
    assert tokens.encoding_for_model("o3-mini") == "o200k_base"
    assert tokens.encoding_for_model("gpt-3.5-turbo") == "cl100k_base"
    assert tokens.encoding_for_model("llama3.1:8b") == "cl100k_base"
    assert tokens.encoding_for_model(None) == "cl100k_base"
    # the two encodings really differ, so the mapping matters
    text = "東京は日本の首都です。"
    assert tokens.count_tokens(text, "gpt-4") != tokens.count_tokens(text, "gpt-4o")


def test_special_token_text_counts_as_plain_text_and_long_text_works() -> None:
    assert tokens.count_tokens("<|endoftext|>", "gpt-4") > 1
    assert tokens.count_tokens("word " * 300_000, "gpt-4o") == 300_001


def test_count_messages_adds_openai_framing() -> None:
    one = [Message("user", "hello world")]
    assert tokens.count_messages(one, "gpt-4") == 3 + (3 + 1 + 2)
    two = [Message("system", "Be brief."), *one]
    assert tokens.count_messages(two, "gpt-4") == 9 + 3 + 1 + tokens.count_tokens("Be brief.")


@pytest.mark.parametrize("text", SAMPLES)
def test_estimate_never_under_counts(text: str) -> None:
    estimate = tokens.estimate_tokens(text)
    for model in ("gpt-4", "gpt-4o"):
        exact = tokens.count_tokens(text, model)
        assert exact <= estimate <= 2 * exact


def test_without_bpe_openai_counts_fall_back_to_the_estimate(without_bpe: None) -> None:
    assert tokens.tokenizer_backend() == "estimate"
    text = "The quick brown fox jumps over the lazy dog."
    assert tokens.count_tokens(text, "gpt-4") == tokens.estimate_tokens(text) == 15
