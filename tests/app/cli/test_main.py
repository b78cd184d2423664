"""The server commands of `lectern` in-process: a start-up refusal is a message and an exit
status, never a traceback (the whole CLI runs as a user runs it in `tests/e2e/test_cli.py`)."""

from __future__ import annotations

import importlib

import pytest
from typer.testing import CliRunner

import app.container
from app.cli.main import cli
from app.settings import Settings
from ingest.embedding import Embedder
from tests.app.test_container import MISMATCH
from tests.support.fake_embedder import HashEmbedder


@pytest.fixture
def wide_model(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """`LECTERN_EMBEDDING_MODEL` names a model that loads as 768-dimensional (and the
    commands leave this process's logging as it is)."""

    def load(settings: Settings) -> Embedder:
        return HashEmbedder(dimension=768)

    monkeypatch.setattr(app.container, "load_embedder", load)
    cli_module = importlib.import_module("app.cli.main")  # `app.cli.main` is the entry point
    monkeypatch.setattr(cli_module, "configure_logging", lambda level: None)
    monkeypatch.setenv("LECTERN_DATABASE_URL", database_url)
    monkeypatch.setenv("LECTERN_EMBEDDING_MODEL", "/models/e5-base")


@pytest.mark.usefixtures("wide_model")
@pytest.mark.parametrize("command", [["worker"], ["serve", "--no-worker"]])
def test_a_model_of_another_dimension_stops_the_command_with_its_message(
    command: list[str],
) -> None:
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == MISMATCH
    assert "Traceback" not in result.output
