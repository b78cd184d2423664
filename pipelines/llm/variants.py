"""Prompt variants: several live versions of one prompt, weighted, assigned sticky by a hash.

Why a hash and no state: the same conversation (or, outside one, the same tenant and
normalised question) must get the same version on every request, in every HTTP worker process,
without a table of assignments. `pick` maps the key to a point in [0, 1) (SHA-256 of the prompt
name and the key) and returns the version whose interval of the weights holds it; versions are
laid out in sorted order, so the TOML's key order does not matter, and changing one weight only
moves the keys whose point lies in the part of an interval that moved.

Why a watched source: rolling a version back must take effect without a restart. The
`WatchedVariants` source re-reads the LLM config file when its modification time (or size)
changed, checked at most every `check_every_s` seconds on use, so every process (uvicorn
workers included) picks the change up by itself; `reload()` forces a check (SIGHUP). A file
that no longer loads, or names an unknown version, keeps the variants in force and logs one
error per change of the file: a bad edit never breaks serving.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

log = logging.getLogger("lectern.llm.variants")

Weights = Mapping[str, float]
"""Prompt ref ("answer@v2") → relative weight, for one prompt."""

DEFAULT_CHECK_EVERY_S = 2.0


def point(name: str, key: str) -> float:
    """The key's place in [0, 1) for prompt `name`: stable across processes and restarts."""
    digest = hashlib.sha256(f"{name}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(name: str, weights: Weights, key: str) -> str:
    """The version of prompt `name` that `key` is assigned to under `weights` (refs with a
    weight > 0; at least one). Deterministic: the same key and weights give the same ref."""
    live = sorted((ref, w) for ref, w in weights.items() if w > 0)
    if not live:
        raise ValueError(f"prompt {name!r} has no version with a weight > 0")
    total = sum(w for _, w in live)
    at = point(name, key) * total
    for ref, weight in live:
        if at < weight:
            return ref
        at -= weight
    return live[-1][0]  # float rounding at the very top of the range


class VariantSource(Protocol):
    """Where the live variants come from. Contract: `weights(name)` returns the versions of
    prompt `name` with their weights, or None when the prompt has no variants configured (the
    caller then uses its default version); cheap enough to call on every request."""

    def weights(self, name: str) -> Weights | None: ...


class StaticVariants:
    """Variants fixed at construction (from a config that does not change, or a test)."""

    def __init__(self, variants: Mapping[str, Weights]) -> None:
        self._variants = {name: dict(w) for name, w in variants.items()}

    def weights(self, name: str) -> Weights | None:
        return self._variants.get(name)


class WatchedVariants:
    """Variants read from `path` by `load` (path → prompt name → weights), re-read when the
    file changed; `check` (optional) validates a new set before it is used, raising to refuse
    it (unknown versions, say). Thread-safe; the file is stat'ed at most every
    `check_every_s` seconds, on use."""

    def __init__(self, path: Path, load: Callable[[Path], Mapping[str, Weights]], *,
                 initial: Mapping[str, Weights] | None = None,
                 check: Callable[[Mapping[str, Weights]], None] | None = None,
                 check_every_s: float = DEFAULT_CHECK_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self._load, self._check = path, load, check
        self.check_every_s, self._clock = check_every_s, clock
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._checked = clock()
        self._variants: dict[str, dict[str, float]] = {}
        self.reloads = 0  # successful re-reads after the first, for tests and logs
        self.last_error: str | None = None
        if initial is None:
            self._apply(load(path))
        else:
            self._apply(initial)

    def weights(self, name: str) -> Weights | None:
        if self._clock() - self._checked >= self.check_every_s:
            self._maybe_reload()
        return self._variants.get(name)

    def reload(self) -> bool:
        """Re-read the file now if it changed (SIGHUP); whether new variants are in force."""
        return self._maybe_reload(force=True)

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _apply(self, variants: Mapping[str, Weights]) -> None:
        if self._check is not None:
            self._check(variants)
        self._variants = {name: dict(w) for name, w in variants.items()}

    def _maybe_reload(self, *, force: bool = False) -> bool:
        with self._lock:
            self._checked = self._clock()
            stamp = self._stat()
            if stamp == self._stamp and not force:
                return False
            self._stamp = stamp  # a bad file is reported once, not on every check
            try:
                loaded = self._load(self.path)
                self._apply(loaded)
            except Exception as exc:  # any failure keeps serving the variants in force
                self.last_error = str(exc)
                log.error("LLM config %s not reloaded, keeping the prompt variants in force: "
                          "%s", self.path, exc)
                return False
            self.reloads += 1
            self.last_error = None
            log.info("LLM config %s reloaded: prompt variants %s", self.path,
                     {name: dict(w) for name, w in loaded.items()} or "none")
            return True
