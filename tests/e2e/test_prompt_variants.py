"""Prompt variants end to end: a real server whose LLM config is a TOML file naming two live
versions of the answer prompt, the scripted OpenAI-protocol server behind the `openai` SDK,
real HTTP. Over N questions both versions are served in proportion (within four standard
deviations of the binomial split), each answer's `answer_id` takes feedback (another tenant's
is 404), `GET /v1/prompts/answer/report` and `lectern prompts report answer` count what was
served; then the file is edited (v2 rolled back to weight 0) and, without a restart, only v1
is served; a broken file keeps the variants in force and the server answering."""

from __future__ import annotations

import math
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from app.cli.main import cli
from app.container import build_container
from app.main import create_app
from app.settings import LLMSettings, Settings
from ingest.embedding import Embedder
from tests.support import scripted_openai as so
from tests.support.answer_corpus import WARRANTY_QUESTION
from tests.support.ask import World, ask_sse
from tests.support.sockets import loopback_socket

N = 100
V1_RULE = "Answer ONLY from the numbered sources"  # in answer@v1's system prompt
V2_RULE = "the direct answer in ONE sentence"  # in answer@v2's


def write_config(path: Path, server: so.ScriptedOpenAI, variants: str, *, tick: int) -> None:
    """The LLM config file with `[prompts.answer] variants = <variants>`, mtime `tick` s."""
    path.write_text(f"""
[providers.scripted]
kind = "openai"
base_url = "{server.base_url}"
api_key = "k"
timeout_s = 5

[[models]]
id = "scripted-model"
provider = "scripted"
tier = "mid"
price_in_per_mtok = 1.0
price_out_per_mtok = 2.0
context_tokens = 8192
max_output_tokens = 256

[cache]
enabled = false

[prompts.answer]
variants = {variants}
""")
    os.utime(path, (1_700_000_000 + tick, 1_700_000_000 + tick))


@dataclass
class Running:
    url: str
    keys: dict[str, str]
    config: Path

    def client(self, tenant: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0,
                            headers={"Authorization": f"Bearer {self.keys[tenant]}"})


@contextmanager
def serve_file(world: World, embedder: Embedder, config: Path) -> Iterator[Running]:
    """A real server reading its LLM config from `config` (LECTERN_CONFIG), as `serve` does."""
    settings = Settings(llm=LLMSettings(LECTERN_CONFIG=str(config)))
    container = build_container(settings, database_url=world.database_url, with_ocr=False,
                                embedder=embedder)
    server = uvicorn.Server(uvicorn.Config(create_app(container), log_config=None,
                                           access_log=False, lifespan="off"))
    sock = loopback_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield Running(f"http://127.0.0.1:{sock.getsockname()[1]}", world.keys, config)
    finally:
        server.should_exit = True
        thread.join(10)
        container.close()


@pytest.fixture(scope="module")
def running(world: World, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory,
            scripted_openai_session: so.ScriptedOpenAI) -> Iterator[Running]:
    path = tmp_path_factory.mktemp("variants") / "llm.toml"
    write_config(path, scripted_openai_session, '{"answer@v1" = 1, "answer@v2" = 1}', tick=1)
    with serve_file(world, embedder, path) as server:
        yield server


def live(client: httpx.Client) -> dict[str, float]:
    prompts = client.get("/v1/prompts").json()["prompts"]
    weights: dict[str, float] = next(p["live"] for p in prompts if p["name"] == "answer")
    return weights


def wait_for_live(client: httpx.Client, expected: dict[str, float]) -> float:
    """Seconds until the server serves `expected` (the file is checked every 2 s on use)."""
    started = time.monotonic()
    while live(client) != expected:
        assert time.monotonic() - started < 15, live(client)
        time.sleep(0.2)
    return time.monotonic() - started


def test_variant_split_over_http_with_feedback_and_the_report(
        running: Running, scripted_openai: so.ScriptedOpenAI) -> None:
    alpha, beta = running.client("alpha"), running.client("beta")
    served: list[dict[str, Any]] = []
    for i in range(N):
        got = ask_sse(alpha, f"{WARRANTY_QUESTION} (variant split {i})")
        assert got.status == 200 and got.names[-1] == "done", got.error
        served.append(got.first("meta"))

    counts = Counter(m["variant"] for m in served)
    tolerance = 4 * math.sqrt(N * 0.25)
    print(f"\n{N} answers over HTTP at 50/50: {dict(counts)}")
    assert set(counts) == {"answer@v1", "answer@v2"}
    assert abs(counts["answer@v2"] - N / 2) <= tolerance
    assert all(m["prompt"] == m["variant"] for m in served)
    systems = [r.body["messages"][0]["content"] for r in scripted_openai.requests]
    assert len(systems) == N
    for meta, system in zip(served, systems, strict=True):
        assert (V2_RULE in system, V1_RULE in system) == (
            meta["variant"] == "answer@v2", meta["variant"] == "answer@v1")

    again = alpha.post("/v1/ask", json={"question": f"{WARRANTY_QUESTION} (variant split 7)",
                                        "stream": False}).json()
    assert again["answer_id"] == again["meta"]["answer_id"] != served[7]["answer_id"]
    assert again["meta"]["variant"] == served[7]["variant"]  # sticky per question

    up, down = served[0]["answer_id"], served[1]["answer_id"]
    first = alpha.post(f"/v1/answers/{up}/feedback", json={"rating": "down", "comment": "meh"})
    assert first.status_code == 200 and first.json()["rating"] == "down"
    assert alpha.post(f"/v1/answers/{up}/feedback", json={"rating": "up"}).status_code == 200
    assert alpha.post(f"/v1/answers/{down}/feedback", json={"rating": "down"}).status_code == 200
    recorded = alpha.get(f"/v1/answers/{up}").json()
    assert (recorded["prompt"], recorded["feedback"]["rating"]) == (served[0]["variant"], "up")
    assert recorded["model"] == "scripted-model" and recorded["latency_ms"] > 0
    foreign = beta.post(f"/v1/answers/{up}/feedback", json={"rating": "down"})
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "answer_not_found"
    assert beta.get(f"/v1/answers/{up}").status_code == 404
    bad = alpha.post(f"/v1/answers/{up}/feedback", json={"rating": "sideways"})
    assert bad.status_code == 422 and "error" in bad.json()

    report = alpha.get("/v1/prompts/answer/report").json()
    rows = {v["prompt"]: v for v in report["variants"]}
    counts[again["meta"]["variant"]] += 1
    for ref in ("answer@v1", "answer@v2"):
        assert rows[ref]["answers"] == counts[ref] and rows[ref]["weight"] == 1
        assert rows[ref]["insufficient_evidence_rate"] == 0
        assert rows[ref]["input_tokens"] > 0 and rows[ref]["cost_usd"] > 0
        assert 0 < rows[ref]["latency_p50_ms"] <= rows[ref]["latency_p95_ms"]
    rated = {r: (int(served[0]["variant"] == r), int(served[1]["variant"] == r)) for r in rows}
    assert {r: (rows[r]["up"], rows[r]["down"]) for r in rows} == rated
    assert beta.get("/v1/prompts/answer/report").json()["variants"][0]["answers"] == 0
    assert alpha.get("/v1/prompts/nope/report").status_code == 404

    result = CliRunner().invoke(cli, ["prompts", "report", "answer", "--url", running.url,
                                      "--api-key", running.keys["alpha"]],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "answer@v1" in result.output and "answer@v2" in result.output
    assert f" {counts['answer@v2']} " in result.output.split("answer@v2")[1].split("\n")[0]
    rated = CliRunner().invoke(cli, ["prompts", "feedback", served[2]["answer_id"], "down",
                                     "--comment", "wrong year", "--url", running.url,
                                     "--api-key", running.keys["alpha"]])
    assert rated.exit_code == 0 and ": down" in rated.output, rated.output
    assert alpha.get(f"/v1/answers/{served[2]['answer_id']}").json()["feedback"] == {
        **alpha.get(f"/v1/answers/{served[2]['answer_id']}").json()["feedback"],
        "rating": "down", "comment": "wrong year"}
    alpha.close()
    beta.close()


def test_rolling_back_is_a_file_edit_and_a_bad_file_keeps_serving(
        running: Running, scripted_openai: so.ScriptedOpenAI,
        caplog: pytest.LogCaptureFixture) -> None:
    alpha = running.client("alpha")
    assert live(alpha) == {"answer@v1": 1, "answer@v2": 1}
    write_config(running.config, scripted_openai, '{"answer@v1" = 1, "answer@v2" = 0}', tick=2)
    took = wait_for_live(alpha, {"answer@v1": 1, "answer@v2": 0})
    print(f"\nrollback took effect {took:.1f} s after the file changed")
    metas = [ask_sse(alpha, f"{WARRANTY_QUESTION} (after rollback {i})").first("meta")
             for i in range(20)]
    assert {m["variant"] for m in metas} == {"answer@v1"}

    running.config.write_text("[prompts.answer]\nvariants = {\"answer@v1\" = 0}\n")  # invalid
    os.utime(running.config, (1_700_000_003, 1_700_000_003))
    time.sleep(2.5)
    assert live(alpha) == {"answer@v1": 1, "answer@v2": 0}  # kept
    got = ask_sse(alpha, f"{WARRANTY_QUESTION} (bad file)")
    assert got.status == 200 and got.first("meta")["variant"] == "answer@v1"
    assert any("not reloaded" in r.getMessage() for r in caplog.records)

    write_config(running.config, scripted_openai, '{"answer@v2" = 1}', tick=4)
    wait_for_live(alpha, {"answer@v2": 1})
    assert ask_sse(alpha, f"{WARRANTY_QUESTION} (v2 only)").first("meta")["variant"] == (
        "answer@v2")
    alpha.close()
