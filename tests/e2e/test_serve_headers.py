"""`lectern serve` as a user runs it, in one process and with `--workers 2`: no `server` banner
and the security headers on its responses, over real HTTP (a subprocess on an empty database,
without in-process ingestion workers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest

from app.middleware import SECURITY_HEADERS
from tests.support.processes import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_sends_no_server_banner_and_the_security_headers(
    fresh_database_url: Callable[..., str], tmp_path: Path, workers: str
) -> None:
    port = free_port()
    env = {**os.environ, "LECTERN_DATABASE_URL": fresh_database_url(migrated=False),
           "LECTERN_PORT": str(port), "LECTERN_DATA_DIR": str(tmp_path / "data"),
           "LECTERN_WEB_WORKERS": workers}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen([sys.executable, "-m", "app.cli.main", "serve", "--no-worker"],
                               env=env, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, f"{url}/healthz", timeout_s=180, what=f"serve --workers {workers}",
                      output=lambda: process.communicate()[0])
        for path in ("/healthz", "/v1/documents", "/nowhere"):
            response = httpx.get(f"{url}{path}")
            assert "server" not in response.headers, (path, response.headers["server"])
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (path, name)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output
    finally:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.communicate()
