"""Per-key and per-tenant rate limits, and the failed-authentication throttle, shared by every
API process through PostgreSQL.

Why PostgreSQL and not a library: the well-kept Python limiters (`limits`, and `slowapi` on top
of it) keep their counters in memory, Redis, Memcached or MongoDB; lectern's one shared place
is PostgreSQL (see docs/architecture.md, Scale-out), and a fixed-window counter there is one
upsert. Each bucket (`key:<id>:rpm`, `tenant:<t>:tpm`, `addr:<ip>:auth`) has one row per minute
in `rate_limit_windows`; a request bumps all of its buckets in one statement:

- requests per minute: the request adds 1 and is refused when that makes more than the limit;
- LLM tokens per minute: the request adds 0 and is refused while the minute's tokens already
  reached the limit. Tokens are known only once the LLM answered, so after the response the
  tokens the ledger booked under the request's id are added (`book_tokens`): a request that
  starts under the limit may finish over it, and the next one waits for the next minute.

A fixed window lets a client send up to twice the limit across a minute boundary; that is the
price of one row per bucket and minute. Rows of past minutes are deleted now and then.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.auth import Principal
from app.settings import RateLimitSettings
from core import ASYNC_COMMIT

WINDOW_S = 60
Scope = Literal["key", "tenant", "address"]
Unit = Literal["requests", "tokens"]

_BUMP = text("""
INSERT INTO rate_limit_windows (bucket, window_start, used)
SELECT b, to_timestamp(floor(extract(epoch FROM now()) / 60) * 60), c
FROM unnest(CAST(:buckets AS text[]), CAST(:costs AS bigint[])) AS t(b, c)
ON CONFLICT (bucket, window_start) DO UPDATE SET used = rate_limit_windows.used + excluded.used
RETURNING bucket, used, extract(epoch FROM window_start + interval '60 seconds' - now()), now()
""")
_TOKENS = text("""
SELECT coalesce(sum(input_tokens + output_tokens), 0) FROM llm_calls
WHERE tenant_id = :tenant AND created_at >= :since AND request_id = :request_id AND NOT cached
""")
_PURGE = text("DELETE FROM rate_limit_windows WHERE window_start < now() - interval '2 minutes'")


@dataclass(frozen=True)
class Bucket:
    """One counter a request is checked against: its row name, limit, who it limits, in what."""

    name: str
    limit: int
    scope: Scope
    unit: Unit


@dataclass(frozen=True)
class Usage:
    """A bucket's standing this minute, after the request was counted."""

    bucket: Bucket
    used: int
    reset_s: int

    @property
    def remaining(self) -> int:
        """What is left of the limit this minute (never negative)."""
        return max(0, self.bucket.limit - self.used)

    @property
    def exceeded(self) -> bool:
        """Whether the request must be refused: more requests than allowed, or the minute's
        tokens already used up."""
        if self.bucket.unit == "requests":
            return self.used > self.bucket.limit
        return self.used >= self.bucket.limit

    def headers(self) -> dict[str, str]:
        """`X-RateLimit-Limit/Remaining/Reset` (seconds until the window resets)."""
        return {"X-RateLimit-Limit": str(self.bucket.limit),
                "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset_s)}


@dataclass(frozen=True)
class Decision:
    """A request's buckets after counting it, the one that refuses it (if any), and the
    database's time when it was counted (the start of its token booking)."""

    usages: tuple[Usage, ...]
    counted_at: datetime | None = None

    @property
    def refused(self) -> Usage | None:
        """The exceeded bucket with the longest wait, or None when the request may go on."""
        over = [u for u in self.usages if u.exceeded]
        return max(over, key=lambda u: u.reset_s) if over else None

    def headers(self) -> dict[str, str]:
        """Rate-limit headers of the refusing bucket, else of the tightest requests bucket
        (else tokens bucket); none without limits."""
        if (refused := self.refused) is not None:
            return refused.headers()
        ranked = sorted(self.usages, key=lambda u: (u.bucket.unit != "requests", u.remaining))
        return ranked[0].headers() if ranked else {}


class RefusalMetrics:
    """`lectern_rate_limit_refusals_total{scope, unit}`: requests refused with 429."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.refusals = Counter(
            "rate_limit_refusals", "Requests refused with 429 by a rate limit.",
            ["scope", "unit"], namespace="lectern", registry=registry)

    def refused(self, usage: Usage) -> None:
        """Count one refusal by `usage`'s bucket."""
        self.refusals.labels(usage.bucket.scope, usage.bucket.unit).inc()


def buckets_for(principal: Principal, settings: RateLimitSettings) -> list[Bucket]:
    """The buckets a request of `principal` is checked against: its key's requests and
    tokens (the key's own limits, else the per-key defaults) and its tenant's."""
    found: list[Bucket] = []
    limits: list[tuple[Scope, str, Unit, int | None]] = [
        ("tenant", principal.tenant, "requests", settings.tenant_rpm),
        ("tenant", principal.tenant, "tokens", settings.tenant_tpm)]
    if principal.key_id is not None:
        limits += [("key", principal.key_id, "requests", principal.rpm or settings.key_rpm),
                   ("key", principal.key_id, "tokens", principal.tpm or settings.key_tpm)]
    for scope, who, unit, limit in limits:
        if limit:
            suffix = "rpm" if unit == "requests" else "tpm"
            found.append(Bucket(f"{scope}:{who}:{suffix}", limit, scope, unit))
    return found


class RateLimiter:
    """Counts requests, tokens and failed authentications in `rate_limit_windows`.

    Blocking calls (run them in a thread); safe to share between threads."""

    def __init__(self, engine: Engine, settings: RateLimitSettings,
                 metrics: RefusalMetrics) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self._lock = threading.Lock()
        self._purged_at = 0.0
        self._blocked: dict[str, float] = {}  # address -> monotonic time its block ends

    def bump(self, buckets: Sequence[Bucket], costs: Sequence[int]) -> Decision:
        """Add `costs` to `buckets` in this minute's rows, in one statement; their usage."""
        if not buckets:
            return Decision(())
        by_name = {b.name: (b, c) for b, c in zip(buckets, costs, strict=True)}
        names = sorted(by_name)  # one lock order for every request: no deadlocks
        with self.engine.begin() as conn:
            conn.execute(ASYNC_COMMIT)  # a counter lost in a database crash is harmless
            rows = conn.execute(_BUMP, {"buckets": names,
                                        "costs": [by_name[n][1] for n in names]}).all()
        self._purge_now_and_then()
        usages = tuple(Usage(by_name[r[0]][0], int(r[1]), max(1, math.ceil(float(r[2]))))
                       for r in rows)
        return Decision(usages, rows[0][3] if rows else None)

    def admit(self, principal: Principal) -> Decision:
        """Count one request of `principal` against its buckets (tokens as 0); the metric
        counts it when it is refused."""
        buckets = buckets_for(principal, self.settings)
        decision = self.bump(buckets, [1 if b.unit == "requests" else 0 for b in buckets])
        if (refused := decision.refused) is not None:
            self.metrics.refused(refused)
        return decision

    def book_tokens(self, principal: Principal, request_id: str, since: datetime) -> int:
        """Add the LLM tokens the ledger booked for `request_id` since `since` (not cache
        hits) to `principal`'s token buckets; the tokens added."""
        buckets = [b for b in buckets_for(principal, self.settings) if b.unit == "tokens"]
        if not buckets:
            return 0
        with self.engine.connect() as conn:
            tokens = int(conn.execute(_TOKENS, {
                "tenant": principal.tenant, "since": since - timedelta(seconds=1),
                "request_id": request_id}).scalar_one())
        if tokens:
            self.bump(buckets, [tokens] * len(buckets))
        return tokens

    def address_bucket(self, address: str) -> Bucket:
        """The bucket of `address`'s failed authentications."""
        return Bucket(f"addr:{address}:auth", self.settings.auth_failures, "address",
                      "requests")

    def blocked(self, address: str) -> Usage | None:
        """The standing of `address` when this process has seen it fail too often this
        minute (used up, with the seconds until it may try again); else None. Answered from
        memory: no query per request."""
        with self._lock:
            until = self._blocked.get(address)
            if until is not None and until <= time.monotonic():
                del self._blocked[address]
                until = None
        if until is None:
            return None
        bucket = self.address_bucket(address)
        return Usage(bucket, bucket.limit + 1, max(1, math.ceil(until - time.monotonic())))

    def auth_failed(self, address: str) -> Usage:
        """Count a failed authentication of `address` (shared by every process); past the
        limit the address is blocked in this process until the minute ends."""
        usage = self.bump([self.address_bucket(address)], [1]).usages[0]
        if usage.exceeded:
            with self._lock:
                self._blocked[address] = time.monotonic() + usage.reset_s
        return usage

    def _purge_now_and_then(self) -> None:
        """Delete past minutes' rows, at most once a minute per process."""
        with self._lock:
            if time.monotonic() - self._purged_at < WINDOW_S:
                return
            self._purged_at = time.monotonic()
        with self.engine.begin() as conn:
            conn.execute(_PURGE)
