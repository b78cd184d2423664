"""The pieces of `serve --workers N` that run without starting a server (the whole server is
driven in `tests/e2e/test_serve_workers.py`): the settings, the worker's refusal to start its
own database, and the clean-up of live gauges left by killed workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.serving.http_workers import reap_dead_gauges, worker_app, worker_settings
from app.settings import Settings


def test_web_workers_default_to_one_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LECTERN_WEB_WORKERS", raising=False)
    assert Settings().web_workers == 1
    monkeypatch.setenv("LECTERN_WEB_WORKERS", "3")
    assert Settings().web_workers == 3


def test_core_sized_defaults_are_shared_out_among_the_workers() -> None:
    two = worker_settings(Settings(web_workers=2), cores=8)
    assert (two.embedding_threads, two.search_concurrency) == (4, 4)
    many = worker_settings(Settings(web_workers=4), cores=2)
    assert (many.embedding_threads, many.search_concurrency) == (1, 1)
    single = worker_settings(Settings(web_workers=1), cores=8)
    assert (single.embedding_threads, single.search_concurrency) == (8, 8)
    chosen = worker_settings(Settings(web_workers=2, embedding_threads=3,
                                      search_concurrency=5), cores=8)
    assert (chosen.embedding_threads, chosen.search_concurrency) == (3, 5)


def test_a_worker_never_starts_the_database_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LECTERN_DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="LECTERN_DATABASE_URL"):
        worker_app()


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
