"""`/v1/ask` answered by a real local model: `python -m llama_cpp.server` (OpenAI-compatible),
reached through the openai-compatible provider. Skipped unless llama-cpp-python (with its
server extra) and a GGUF model are available: `LECTERN_TEST_GGUF`, or the evaluation model
that `scripts/fetch_eval_model.py` assembles in /var/tmp/lectern-models/.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.llm import parse_config
from tests.support.answer_corpus import WARRANTY_QUESTION
from tests.support.ask import ask_sse
from tests.support.processes import free_port, wait_until_up

EVAL_MODEL = Path("/var/tmp/lectern-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
SKIP_REASON = "needs llama-cpp-python (optional extra 'local') and a GGUF model"


def _gguf() -> Path | None:
    given = os.environ.get("LECTERN_TEST_GGUF")
    path = Path(given) if given else EVAL_MODEL
    return path if path.is_file() else None


def _server_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None
               for m in ("llama_cpp", "starlette_context", "sse_starlette"))


pytestmark = pytest.mark.skipif(not (_server_installed() and _gguf()), reason=SKIP_REASON)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on a free loopback port; yields its `/v1` URL."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(_gguf()),
               "--model_alias", "lectern-eval", "--host", "127.0.0.1", "--port", str(port),
               "--n_ctx", "2048", "--n_threads", "2"]
    log = tmp_path_factory.mktemp("llama") / "server.log"  # a file: a full pipe would block it
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_up(process, f"{base}/models", timeout_s=120, what="llama_cpp.server",
                      output=log.read_text, interval_s=0.25)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_ask_is_answered_by_llama_cpp_server(start: Any, llama_server: str) -> None:
    config = parse_config({
        "providers": {"llamacpp": {"kind": "openai", "base_url": llama_server, "timeout_s": 120,
                                   "options": {"structured_mode": "json_object",
                                               "local": True}}},
        "models": [{"id": "lectern-eval", "provider": "llamacpp", "tier": "mid",
                    "context_tokens": 2048, "max_output_tokens": 16}],
        "tasks": {"answer": {"min_tier": "mid", "max_output_tokens": 16, "degrade": False}},
        "cache": {"enabled": False},
    }, {})
    server = start(config)

    got = ask_sse(server.client(), WARRANTY_QUESTION, top_k=1)  # a short prompt: CPU time

    assert got.status == 200 and got.names[-1] == "done", got.events[-1:]
    meta, usage = got.first("meta"), got.first("usage")
    assert (meta["provider"], meta["model"], meta["extractive"]) == ("llamacpp", "lectern-eval",
                                                                    False)
    assert got.names.index("sources") < got.names.index("token")
    assert got.text.strip() and 0 < usage["output_tokens"] <= 16
    assert usage["input_tokens"] > 100  # the prompt with its sources reached the model
