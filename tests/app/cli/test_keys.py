"""`lectern keys`: one line and exit status 1, never a traceback, when the database cannot be
started, reached or used (the real CLI in a subprocess); and what `keys create` says about
the first key and the documents that stay with tenant `default`."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.container import Container
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[3]
LECTERN = [sys.executable, "-c", "from app.cli import main; main()"]  # the console script


def _lectern(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("LECTERN_")}
    return subprocess.run([*LECTERN, *args], env={**clean, **env}, cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["keys", "list"], ["keys", "create", "--tenant", "acme"],
                                     ["keys", "revoke", "lk_abcdefgh"]])
def test_an_unreachable_database_url_is_one_line(command: list[str]) -> None:
    port = free_port()
    url = f"postgresql://lectern:s3cret@127.0.0.1:{port}/lectern"
    line = _one_line_error(_lectern(*command, LECTERN_DATABASE_URL=url))
    assert line.startswith(f"database: cannot reach LECTERN_DATABASE_URL=postgresql://lectern:***@"
                           f"127.0.0.1:{port}/lectern: connection failed:"), line
    assert "Connection refused" in line and "s3cret" not in line


@pytest.mark.parametrize("kind", ["a file", "under a file", "under /proc"])
def test_a_data_dir_the_embedded_server_cannot_use_is_one_line(tmp_path: Path, kind: str) -> None:
    (tmp_path / "file").write_text("not a directory")
    data_dir = {"a file": tmp_path / "file", "under a file": tmp_path / "file" / "lectern",
                "under /proc": Path("/proc/lectern-test")}[kind]
    line = _one_line_error(_lectern("keys", "create", "--tenant", "acme",
                                    LECTERN_DATA_DIR=str(data_dir)))
    assert line.startswith("database: cannot start or reach the embedded PostgreSQL in "
                           f"LECTERN_DATA_DIR={data_dir}: [Errno "), line


def test_a_database_without_lectern_tables_is_one_line(
    fresh_database_url: Callable[..., str],
) -> None:
    line = _one_line_error(_lectern("keys", "list",
                                    LECTERN_DATABASE_URL=fresh_database_url(migrated=False)))
    assert line.endswith("has no lectern tables yet: run `lectern db upgrade` first"), line


def _create(tenant: str) -> tuple[str, list[str]]:
    """Run `keys create --tenant` in-process; return the printed key and the stderr lines."""
    cli = importlib.import_module("app.cli.main").cli  # `app.cli.main` is the entry point
    result = CliRunner().invoke(cli, ["keys", "create", "--tenant", tenant])
    assert result.exit_code == 0, result.output
    return result.stdout.strip(), result.stderr.splitlines()


def test_keys_create_says_the_documents_of_default_stay_with_it(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, container: Container
) -> None:
    monkeypatch.setattr(importlib.import_module("app.cli.main"), "configure_logging",
                        lambda level: None)
    monkeypatch.setenv("LECTERN_DATABASE_URL", container.database_url)
    for name in ("one.md", "two.md"):
        uploaded = client.post("/v1/documents", files={"file": (name, f"# {name}\n\n.".encode())})
        assert uploaded.status_code == 202, uploaded.text

    key, lines = _create("acme")
    assert key.startswith("lk_")
    assert lines == [
        "note: this is the first API key; from now on every /v1/ request needs a key, and "
        "revoking keys does not change that",
        "warning: 2 document(s) were uploaded as tenant 'default' (without a key) and stay with "
        "it; this key of tenant 'acme' will not see them (a key created with --tenant default "
        "will)",
        "key for tenant 'acme' created; it will not be shown again",
    ]
    listed = client.get("/v1/documents", headers={"Authorization": f"Bearer {key}"})
    assert listed.json()["total"] == 0, "the warning is true"

    assert _create("beta")[1][0].startswith("warning: 2 document(s)"), "said for every tenant"
    own_key, lines = _create("default")
    assert lines == ["key for tenant 'default' created; it will not be shown again"]
    listed = client.get("/v1/documents", headers={"Authorization": f"Bearer {own_key}"})
    assert listed.json()["total"] == 2
