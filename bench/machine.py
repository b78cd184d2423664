"""What a figure was measured on: the machine's load and the exact code.

These benchmarks run on small shared machines where absolute numbers mean little, so the load
average and CPU count are printed and stored with every figure; and the tree changes while
they run, so results also name the commit and each measured file's content hash.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from typing import Any

from bench.common import REPO_ROOT


def machine_load() -> dict[str, Any]:
    """Load averages (1, 5, 15 min) and usable CPUs, for the record next to every figure."""
    one, five, fifteen = os.getloadavg()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"load_1m": round(one, 2), "load_5m": round(five, 2), "load_15m": round(fifteen, 2),
            "cpus": cpus}


def load_line() -> str:
    """`load average 3.1 / 2.9 / 2.5 on 2 CPUs`, for printed output."""
    m = machine_load()
    return f"load average {m['load_1m']} / {m['load_5m']} / {m['load_15m']} on {m['cpus']} CPUs"


def code_versions(*paths: str) -> dict[str, Any]:
    """The git commit and each file's content hash: the tree changes while benchmarks run,
    so results say exactly which code they measured (`dirty` = differs from the commit)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip()

    dirty = set(git("status", "--porcelain", "--", *paths).splitlines())
    files = {}
    for path in paths:
        data = (REPO_ROOT / path).read_bytes() if (REPO_ROOT / path).exists() else b""
        files[path] = {"sha256": hashlib.sha256(data).hexdigest()[:12],
                       "dirty": any(line.endswith(path) for line in dirty)}
    return {"commit": git("rev-parse", "--short", "HEAD"), "files": files}
