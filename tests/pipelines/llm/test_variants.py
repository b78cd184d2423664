"""Prompt variants: the sticky hash split, the config section, and the watched config file
(re-read when it changes; a bad file keeps the variants in force)."""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

import pytest

from pipelines.llm.config import load_config, parse_config, prompt_variants
from pipelines.llm.errors import ConfigError, PromptNotFound
from pipelines.llm.prompts import PromptRegistry
from pipelines.llm.variants import StaticVariants, WatchedVariants, pick

PROVIDERS = """
[providers.fake]
kind = "fake"

[[models]]
id = "fake-1"
provider = "fake"
tier = "mid"
"""


def file_with(path: Path, variants: str, *, tick: int) -> None:
    """Write a config whose `[prompts.answer]` is `variants`, with a distinct mtime."""
    path.write_text(PROVIDERS + f"\n[prompts.answer]\nvariants = {variants}\n")
    os.utime(path, ns=(tick * 10**9, tick * 10**9))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("weights", [{"answer@v1": 1, "answer@v2": 1},
                                     {"answer@v1": 3, "answer@v2": 1},
                                     {"answer@v1": 0.1, "answer@v2": 0.7, "answer@v3": 0.2}])
def test_the_hash_split_follows_the_weights(weights: dict[str, float]) -> None:
    n = 20_000
    got = Counter(pick("answer", weights, f"tenant\x00question {i}") for i in range(n))
    total = sum(weights.values())
    for ref, weight in weights.items():
        assert abs(got[ref] / n - weight / total) < 0.015, got


def test_the_same_key_keeps_its_version_and_a_new_weight_moves_few_keys() -> None:
    keys = [f"conversation-{i}" for i in range(5000)]
    half = {"answer@v1": 1, "answer@v2": 1}
    before = [pick("answer", half, k) for k in keys]
    assert before == [pick("answer", dict(reversed(half.items())), k) for k in keys]
    after = [pick("answer", {"answer@v1": 1.2, "answer@v2": 0.8}, k) for k in keys]
    moved = sum(a != b for a, b in zip(before, after, strict=True))
    assert 0.05 < moved / len(keys) < 0.15  # only the 10 % whose interval changed hands
    off = [pick("answer", {"answer@v1": 1, "answer@v2": 0}, k) for k in keys]
    assert set(off) == {"answer@v1"}  # a weight of 0 is a rollback


def test_the_config_section_is_validated() -> None:
    cfg = parse_config({"prompts": {"answer": {"variants": {"answer@v1": 1, "answer@v2": 3}}}},
                       {})
    assert cfg.variant_weights() == {"answer": {"answer@v1": 1.0, "answer@v2": 3.0}}
    for bad, field in (({"answer": {"variants": {"extract@v1": 1}}}, "not answer@v<N>"),
                       ({"answer": {"variants": {"answer@v1": 0}}}, "weight > 0"),
                       ({"answer": {"variants": {"answer@v1": -1}}}, "prompts.answer")):
        with pytest.raises(ConfigError) as info:
            parse_config({"prompts": bad}, {})
        assert field in info.value.message


def test_the_registry_chooses_among_variants_and_refuses_unknown_versions() -> None:
    registry = PromptRegistry(variants=StaticVariants({"answer": {"answer@v2": 1}}))
    assert registry.choose("answer", "any").ref == "answer@v2"
    assert registry.live("answer") == {"answer@v2": 1}
    assert registry.choose("extract", "any").ref == "extract@v1"  # no variants: the default
    assert registry.live("extract") == {"extract@v1": 1.0}
    assert PromptRegistry().get("answer").ref == "answer@v1"  # v2 is a draft
    with pytest.raises(PromptNotFound):
        registry.check_variants({"answer": {"answer@v9": 1}})


def test_the_watched_file_is_reread_when_it_changes_and_a_bad_one_is_ignored(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "llm.toml"
    file_with(path, '{"answer@v1" = 1, "answer@v2" = 1}', tick=1)
    registry = PromptRegistry()
    assert isinstance(prompt_variants(load_config(path, {}), path, {}), WatchedVariants)
    clock = Clock()  # the check interval, by hand
    source = WatchedVariants(path, lambda p: load_config(p, {}).variant_weights(),
                             check=registry.check_variants, check_every_s=2.0, clock=clock)
    registry.serve_variants(source)
    assert registry.live("answer") == {"answer@v1": 1, "answer@v2": 1}

    file_with(path, '{"answer@v1" = 1, "answer@v2" = 0}', tick=2)  # roll back v2
    assert registry.live("answer")["answer@v2"] == 1  # not checked again yet
    clock.now += 2.0
    assert registry.live("answer") == {"answer@v1": 1, "answer@v2": 0}
    assert {registry.choose("answer", f"k{i}").ref for i in range(50)} == {"answer@v1"}
    assert source.reloads == 1

    with caplog.at_level(logging.ERROR, logger="lectern.llm.variants"):
        for tick, text in ((3, '{"answer@v1" = 1, "answer@v9" = 1}'),  # unknown version
                           (4, '{"answer@v1" = 0}'),  # invalid
                           (5, "not toml [")):
            file_with(path, text, tick=tick) if tick < 5 else path.write_text(text)
            clock.now += 2.0
            assert registry.live("answer") == {"answer@v1": 1, "answer@v2": 0}
            assert source.last_error
    assert len([r for r in caplog.records if "not reloaded" in r.getMessage()]) == 3

    file_with(path, '{"answer@v2" = 1}', tick=6)
    assert source.reload()  # SIGHUP: at once, whatever the interval
    assert registry.choose("answer", "k").ref == "answer@v2" and source.last_error is None


def test_without_a_file_the_variants_are_static() -> None:
    cfg = parse_config({"prompts": {"answer": {"variants": {"answer@v2": 1}}}}, {})
    source = prompt_variants(cfg, None, {})
    assert isinstance(source, StaticVariants) and source.weights("answer") == {"answer@v2": 1}
