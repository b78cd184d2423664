"""Prompt registry: versioned files, latest vs exact, overrides, rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.llm.errors import PromptNotFound
from pipelines.llm.prompts import PromptRegistry, PromptRenderError


def test_builtin_prompts_are_versioned_files() -> None:
    refs = PromptRegistry().refs()
    for ref in ("answer@v1", "cleanup@v1", "extract@v1", "extract_reask@v1", "continue@v1"):
        assert ref in refs
    answer = PromptRegistry().get("answer@v1")
    assert answer.fields == {"question", "sources"} and answer.path is not None
    assert "[1]" in answer.system and "ONLY" in answer.system
    cleanup = PromptRegistry().get("cleanup")
    assert "numbers" in cleanup.system and "Never change" in cleanup.system


def test_latest_exact_and_override_from_an_extra_directory(tmp_path: Path) -> None:
    (tmp_path / "answer@v2.toml").write_text('system = "v2 rules"\nuser = "Q: $question"\n')
    (tmp_path / "cleanup@v1.toml").write_text('user = "overridden $text"\n')
    reg = PromptRegistry([tmp_path])
    assert reg.get("answer").ref == "answer@v2"
    assert reg.get("answer@v1").ref == "answer@v1"
    assert reg.get("answer").render(question="why?")[1].content == "Q: why?"
    assert reg.get("cleanup@v1").render(text="x")[0].content == "overridden x"  # no system
    assert PromptRegistry().get("answer").ref == "answer@v1"  # built-ins untouched


def test_render_substitutes_fields_and_keeps_json_braces() -> None:
    schema = json.dumps({"type": "object", "properties": {"total": {"type": "number"}}})
    system, user = PromptRegistry().get("extract@v1").render(schema=schema,
                                                             document="Total: $5 ${x}")
    assert system.role == "system" and schema in system.content
    assert user.role == "user" and user.content.endswith("Total: $5 ${x}")  # not re-substituted
    with pytest.raises(PromptRenderError) as info:
        PromptRegistry().get("extract@v1").render(schema="{}")
    assert info.value.details["missing"] == ["document"]


def test_unknown_prompt_lists_the_known_ones() -> None:
    for ref in ("nope", "answer@v99", "Answer@1"):
        with pytest.raises(PromptNotFound) as info:
            PromptRegistry().get(ref)
        assert "answer@v1" in info.value.details["known"] and "answer@v1" in info.value.message
