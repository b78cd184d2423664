"""`serve`'s SIGHUP handler re-reads the prompt variants of the LLM config file at once."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from app.cli.main import _reload_prompts_on_sighup
from pipelines.llm import PromptRegistry, WatchedVariants


def test_sighup_rereads_the_variants_at_once(tmp_path: Path) -> None:
    path = tmp_path / "llm.toml"
    path.write_text('[prompts.answer]\nvariants = {"answer@v1" = 1}\n')
    reloaded = threading.Event()

    def load(p: Path) -> dict[str, dict[str, float]]:
        text = p.read_text()
        reloaded.set()
        return {"answer": {"answer@v2": 1.0}} if "v2" in text else {"answer": {"answer@v1": 1}}

    registry = PromptRegistry()
    source = WatchedVariants(path, load, check=registry.check_variants, check_every_s=3600)
    registry.serve_variants(source)
    reloaded.clear()
    previous = signal.getsignal(signal.SIGHUP)
    try:
        container: Any = SimpleNamespace(prompts=registry)
        _reload_prompts_on_sighup(container)
        path.write_text('[prompts.answer]\nvariants = {"answer@v2" = 1}\n')
        assert registry.choose("answer", "k").ref == "answer@v1"  # next check in an hour
        os.kill(os.getpid(), signal.SIGHUP)
        assert reloaded.wait(5)
        for _ in range(50):
            if source.reloads:
                break
            threading.Event().wait(0.05)
        assert registry.choose("answer", "k").ref == "answer@v2"
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_without_a_watched_file_sighup_is_left_alone() -> None:
    previous = signal.getsignal(signal.SIGHUP)
    container: Any = SimpleNamespace(prompts=PromptRegistry())
    _reload_prompts_on_sighup(container)
    assert signal.getsignal(signal.SIGHUP) is previous
