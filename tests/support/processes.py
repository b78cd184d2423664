"""Servers run as child processes by the e2e tests: a free port, and waiting until one is up.

Each test starts its own process (lectern serve, llama_cpp.server); these helpers keep the
waiting honest in one place: fail at once when the child exits, fail at the deadline, never
hang on a child that is alive but not answering.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(process: subprocess.Popen[Any], url: str, *, timeout_s: float, what: str,
                  output: Callable[[], str], interval_s: float = 0.5) -> None:
    """Poll `url` until it answers 200; fail with the child's `output()` if it exits first,
    or with "`what` did not start" after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, f"{what} exited: {output()[-2000:]}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{what} did not start in {timeout_s:.0f} s"
        time.sleep(interval_s)
