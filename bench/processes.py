"""The processes `bench.query` starts and measures, all on loopback and its own children only.

- `start_child` / `stop_child`: `python -m bench.query serve|scripted ...` (the app on uvicorn
  with bench routes, or the scripted OpenAI server), which write their port to a file;
- `start_serve` / `stop_serve`: the real `lectern serve --workers N` (the CLI as a user runs
  it: settings from the environment, the scripted OpenAI server as its only model through a
  `LECTERN_CONFIG` file, no in-process ingestion) on the benchmark database;
- `tree_cpu_s`, `serve_summary`: CPU seconds of a process and its children, to see how many
  cores the serving processes actually used, and their resident memory.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench.common import REPO_ROOT


def free_port_file(tmp: Path, name: str) -> Path:
    """A fresh file for a child to write its port into (never one an earlier child wrote)."""
    return tmp / f"{name}-{uuid.uuid4().hex[:8]}.port"


def start_child(args: list[str], port_file: Path, timeout: float = 300.0
                ) -> tuple[subprocess.Popen[bytes], int]:
    """Start `python -m bench.query <args>` and wait for it to write its port."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-m", "bench.query", *args], cwd=REPO_ROOT, env=env)
    wait_ready(child, lambda: port_file.exists() and bool(port_file.read_text().strip()),
               timeout=timeout, stop=stop_child, what=f"child {args[0]}", interval=0.1)
    return child, int(port_file.read_text())


def wait_ready(child: subprocess.Popen[bytes], ready: Callable[[], bool], *, timeout: float,
               stop: Callable[[subprocess.Popen[bytes]], None], what: str,
               interval: float = 0.5) -> None:
    """Poll `ready()` until true; RuntimeError if `child` exits first or (after `stop`ping
    it) when `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not ready():
        if child.poll() is not None:
            raise RuntimeError(f"{what} exited with {child.returncode}")
        if time.monotonic() > deadline:
            stop(child)
            raise RuntimeError(f"{what} did not start within {timeout:.0f}s")
        time.sleep(interval)


def stop_child(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s (this benchmark's own child only)."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


# The `LECTERN_CONFIG` of `lectern serve`: the scripted OpenAI server as its only model.
_MODEL_TOML = """\
[providers.bench]
kind = "openai"
base_url = "{base_url}"
api_key = "k"
timeout_s = 120

[[models]]
id = "bench-model"
provider = "bench"
tier = "mid"
price_in_per_mtok = 0.1
price_out_per_mtok = 0.2
context_tokens = 16384
max_output_tokens = 256
tasks = ["answer"]

[cache]
enabled = false
"""


def _free_port() -> int:
    """A loopback port free right now, for `lectern serve` to bind."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(database_url: str, openai_url: str, workers: int, tmp: Path,
                timeout: float = 300.0) -> tuple[subprocess.Popen[bytes], int, Path]:
    """`lectern serve --workers N --no-worker` on a free port, once every worker is ready.

    Returns the process, its port and its log file (stdout and stderr).
    """
    config = tmp / "bench-llm.toml"
    config.write_text(_MODEL_TOML.format(base_url=openai_url))
    port = _free_port()
    log_path = tmp / f"serve-{workers}-{port}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "LECTERN_DATABASE_URL": database_url, "LECTERN_CONFIG": str(config),
           "LECTERN_HOST": "127.0.0.1", "LECTERN_PORT": str(port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log_path.open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "app.cli.main", "serve", "--no-worker",
                                  "--workers", str(workers)], cwd=REPO_ROOT, env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
    wait_ready(child, lambda: _ready(port, log_path, workers), timeout=timeout, stop=stop_serve,
               what=f"lectern serve (log: {log_path})")
    return child, port, log_path


def _ready(port: int, log_path: Path, workers: int) -> bool:
    """Healthy, and (several workers) each worker has logged that it is ready."""
    import httpx

    if workers > 1 and len(re.findall(rb"HTTP worker \d+ ready", log_path.read_bytes())) < workers:
        return False
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stop_serve(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the parent stops its workers), then SIGKILL the whole tree after 60 s."""
    if child.poll() is not None:
        return
    try:
        tree = psutil.Process(child.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(60)
    except subprocess.TimeoutExpired:
        for process in tree:
            process.kill()
        child.kill()
        child.wait(10)


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` and its live children."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in (root, *root.children(recursive=True)):
            times = process.cpu_times()
            total += times.user + times.system
    except psutil.NoSuchProcess:
        pass
    return total


def serve_summary(child: subprocess.Popen[bytes], cpu_s: float, wall: float) -> dict[str, Any]:
    """CPU the serving processes used during the streams, in cores, and their memory."""
    rss = 0
    try:
        root = psutil.Process(child.pid)
        for process in (root, *root.children(recursive=True)):
            rss += process.memory_info().rss
    except psutil.NoSuchProcess:
        pass
    return {"cpu_s": round(cpu_s, 2), "cores_used": round(cpu_s / wall, 2) if wall else None,
            "rss_mb": round(rss / 2**20)}
