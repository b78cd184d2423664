"""The `lectern` command line as a user runs it: `serve` from settings alone, `keys`, shutdown,
and `ingest` uploading a folder to the shared e2e server.

`serve` is started as a subprocess against an empty (unmigrated) database named by
`LECTERN_DATABASE_URL`, so this proves the composition root builds from the environment, that
`serve` migrates before serving, and that SIGTERM stops it cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import Server
from tests.support.database import DatabaseFactory
from tests.support.processes import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[2]


def _lectern(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def cli_env(fresh_database_url: DatabaseFactory, tmp_path: Path) -> dict[str, str]:
    """Environment for a lectern process on an empty database and a free port."""
    return {
        **os.environ,
        "LECTERN_DATABASE_URL": fresh_database_url(migrated=False),
        "LECTERN_PORT": str(free_port()),
        "LECTERN_DATA_DIR": str(tmp_path / "data"),
        "LECTERN_OCR_WORKERS": "1",
    }


@pytest.fixture
def served(cli_env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`lectern serve` running in a subprocess; yields its URL and process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "serve"],
        env=cli_env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{cli_env['LECTERN_PORT']}"
    try:
        wait_until_up(process, f"{url}/healthz", timeout_s=180, what="lectern serve",
                      output=lambda: process.communicate()[0])
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_serve_migrates_serves_takes_keys_and_stops_on_sigterm(
    served: tuple[str, subprocess.Popen[str]], cli_env: dict[str, str]
) -> None:
    url, process = served
    # The database was empty: serve migrated it, so the documents API works in open mode.
    listed = httpx.get(f"{url}/v1/documents")
    assert listed.status_code == 200 and listed.json()["items"] == []

    key = _lectern("keys", "create", "--tenant", "acme", "--name", "cli", env=cli_env).strip()
    assert key.startswith("lk_")
    assert httpx.get(f"{url}/v1/documents").status_code == 401
    authorised = httpx.get(f"{url}/v1/documents", headers={"Authorization": f"Bearer {key}"})
    assert authorised.status_code == 200
    assert key[:11] in _lectern("keys", "list", env=cli_env)
    _lectern("keys", "revoke", key[:11], env=cli_env)
    assert httpx.get(f"{url}/v1/documents").status_code == 401, "no live key, still closed"

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "stopping in-process workers" in output
    assert "container closed" in output


def test_cli_ingest_uploads_a_folder_and_waits(server: Server, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good.md").write_text(f"# CLI\n\nIngested by the CLI, marker {marker}.\n")
    (tmp_path / "ignored.bin").write_bytes(b"\x00" * 10)
    command = [
        sys.executable,
        "-m",
        "app.cli.main",
        "ingest",
        str(tmp_path),
        "--wait",
        "--url",
        server.url,
        "--api-key",
        server.keys["alpha"],
        "--collection",
        "cli",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "good.md" in result.stderr and "succeeded" in result.stderr
    assert "ignored.bin" not in result.stderr

    (tmp_path / "sub" / "empty.txt").write_bytes(b"")
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 1, result.stderr
    assert "empty_file" in result.stderr
