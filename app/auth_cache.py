"""Recently verified API keys, kept a few seconds so a request with a known key costs no query.

Every `/v1/` request used to pay two queries before its handler ran (were keys ever created,
and the key's row), each on a thread of the pool: about 2 ms on a quiet machine, more under
load, on routes whose own work is a few milliseconds (`bench.gateway_overhead`). A key found
valid is remembered for `LECTERN_AUTH_CACHE_S` seconds (0: never), never past its own expiry,
and found again without a thread hop. Only answers that admit a request are kept: an unknown,
revoked or expired key always costs its query, so a key guessed later still fails.

Revoking a key in this process (`/v1/keys`) forgets every remembered key at once; another
process (a second `serve --workers` process, the CLI's `keys revoke`) finds out within the
TTL. "Keys have been created" is remembered for good once true, since it never becomes false
again: from then on requests need a key.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

from cachetools import TTLCache

from app.auth import Principal

MAX_KEYS = 10_000
"""Remembered keys per process: far more than a deployment's live keys, bounded all the same."""


class KeyCache:
    """Principals of recently verified `Authorization` header values, per process."""

    def __init__(self, ttl_s: float) -> None:
        self._keys: TTLCache[str, Principal] | None = (
            TTLCache(MAX_KEYS, ttl_s) if ttl_s > 0 else None)
        self._lock = threading.Lock()
        self.auth_required = False
        """True once a request was found to need a key (it never stops needing one)."""

    def get(self, authorization: str | None) -> Principal | None:
        """The principal this header value was verified as, if remembered and unexpired."""
        if self._keys is None or not authorization:
            return None
        with self._lock:
            principal = self._keys.get(_digest(authorization))
        if principal is None or (principal.expires_at is not None
                                 and principal.expires_at <= datetime.now(UTC)):
            return None
        return principal

    def put(self, authorization: str | None, principal: Principal) -> None:
        """Remember that this header value was verified as `principal`."""
        if self._keys is None or not authorization or principal.key_id is None:
            return
        with self._lock:
            self._keys[_digest(authorization)] = principal

    def clear(self) -> None:
        """Forget every remembered key (a key was revoked here)."""
        if self._keys is not None:
            with self._lock:
                self._keys.clear()


def _digest(authorization: str) -> str:
    """The header value as the cache holds it: never the secret itself."""
    return hashlib.sha256(authorization.encode()).hexdigest()
