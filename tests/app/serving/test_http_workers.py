"""The pieces of `serve --workers N` that run without starting a server (the whole server is
driven in `tests/e2e/test_serve_workers.py`): the settings, the worker's refusal to start its
own database, and the clean-up of live gauges left by killed workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from uvicorn.config import STARTUP_FAILURE

import app.container
import app.serving.http_workers
from app.serving.http_workers import reap_dead_gauges, worker_app, worker_settings
from app.settings import EmbeddingSettings, SearchSettings, Settings, WebSettings
from ingest.embedding import Embedder
from tests.support.fake_embedder import HashEmbedder


def test_web_workers_default_to_one_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LECTERN_WEB_WORKERS", raising=False)
    assert Settings().web.workers == 1
    monkeypatch.setenv("LECTERN_WEB_WORKERS", "3")
    assert Settings().web.workers == 3


def _shares(settings: Settings, cores: int) -> tuple[int | None, int | None]:
    shared = worker_settings(settings, cores=cores)
    return shared.embedding.threads, shared.search.concurrency


def test_core_sized_defaults_are_shared_out_among_the_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LECTERN_EMBEDDING_THREADS", "LECTERN_SEARCH_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    assert _shares(Settings(web=WebSettings(workers=2)), cores=8) == (4, 4)
    assert _shares(Settings(web=WebSettings(workers=4)), cores=2) == (1, 1)
    assert _shares(Settings(web=WebSettings(workers=1)), cores=8) == (8, 8)
    chosen = Settings(web=WebSettings(workers=2), embedding=EmbeddingSettings(threads=3),
                      search=SearchSettings(concurrency=5))
    assert _shares(chosen, cores=8) == (3, 5)


def test_a_worker_never_starts_the_database_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LECTERN_DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="LECTERN_DATABASE_URL"):
        worker_app()


def test_a_worker_refusing_its_model_exits_as_a_start_up_failure(
    monkeypatch: pytest.MonkeyPatch, database_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    def load(settings: Settings) -> Embedder:
        return HashEmbedder(dimension=768)

    monkeypatch.setenv("LECTERN_DATABASE_URL", database_url)
    monkeypatch.setattr(app.container, "load_embedder", load)
    monkeypatch.setattr(app.serving.http_workers, "configure_logging", lambda level: None)
    with pytest.raises(SystemExit) as caught:
        worker_app()
    assert caught.value.code == STARTUP_FAILURE  # the supervisor stops rather than restarts
    assert "768-dimensional vectors, but the corpus schema stores 384" in caplog.text


def test_live_gauges_of_dead_processes_are_dropped(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead = int(finished.stdout)  # reaped: that pid is gone (reuse within the test is remote)
    mine = os.getpid()
    names = [f"gauge_livesum_{dead}.db", f"gauge_livemax_{dead}.db", f"gauge_livesum_{mine}.db",
             f"counter_{dead}.db", f"gauge_all_{dead}.db"]
    for name in names:
        (tmp_path / name).write_bytes(b"")

    assert reap_dead_gauges(tmp_path) == [dead]
    left = sorted(path.name for path in tmp_path.iterdir())
    # Counters and histograms of a dead worker keep counting (totals must not go backwards).
    assert left == sorted([f"gauge_livesum_{mine}.db", f"counter_{dead}.db",
                           f"gauge_all_{dead}.db"])
