"""The ASGI side of `app.rate_limits`: 429s with `Retry-After` and `X-RateLimit-*` headers.

Two pure ASGI middlewares around the auth gate (`app.middleware.AuthGateMiddleware`), both on
the gate's paths only:

- `AuthThrottleMiddleware`, outside the gate: each 401 the gate answers counts against the
  client address (`scope["client"]`, the proxy's address behind a reverse proxy); past
  `LECTERN_RATE_AUTH_FAILURES` a minute that 401 becomes a 429, and this process answers the
  address 429 at once, key or no key, until the minute ends. Valid requests cost no query.
- `RateLimitMiddleware`, inside the gate: counts the request against its key's and tenant's
  buckets before the body is read, refuses it with 429 or lets it on with the headers added,
  and after the response books the LLM tokens it used.

On the OpenAI-compatible routes `app.openai_compat.OpenAIErrorShape`, outside both, gives the
429 OpenAI's error shape; the headers stay.
"""

from __future__ import annotations

import logging
from datetime import datetime
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import Principal
from app.errors import ApiError, domain_error_response
from app.middleware import AuthGateMiddleware
from app.rate_limits import RateLimiter, RefusalMetrics, Usage
from core import DatabaseUnavailable, is_database_unavailable

log = logging.getLogger("lectern.rate_limits")

_METRICS: WeakKeyDictionary[CollectorRegistry, RefusalMetrics] = WeakKeyDictionary()


def refusal_metrics(registry: CollectorRegistry) -> RefusalMetrics:
    """The refusal counter registered on `registry` (created once per registry)."""
    found = _METRICS.get(registry)
    if found is None:
        found = _METRICS[registry] = RefusalMetrics(registry)
    return found


def _gated(scope: Scope) -> bool:
    path = str(scope.get("path", "")).removeprefix(str(scope.get("root_path", "")))
    return scope["type"] == "http" and path.startswith(AuthGateMiddleware.TENANT_PATHS)


_WHO = {"key": "this API key", "tenant": "this tenant", "address": "this client address"}


def too_many(usage: Usage) -> ApiError:
    """The 429 of a refusing bucket, saying which limit and when to come back."""
    bucket = usage.bucket
    what = ("failed authentications" if bucket.scope == "address"
            else "requests" if bucket.unit == "requests" else "LLM tokens")
    return ApiError(
        429, "rate_limit_exceeded",
        f"rate limit reached: {bucket.limit} {what} per minute for {_WHO[bucket.scope]}; "
        f"retry in {usage.reset_s} s", scope=bucket.scope, unit=bucket.unit,
        limit=bucket.limit, remaining=usage.remaining, reset_s=usage.reset_s,
        retry_after_s=usage.reset_s)


async def _refuse(scope: Scope, receive: Receive, send: Send, usage: Usage) -> None:
    response = domain_error_response(too_many(usage))
    response.headers.update(usage.headers())
    await response(scope, receive, send)


class AuthThrottleMiddleware:
    """429 for a client address after too many failed authentications a minute."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if not _gated(scope) or not client:
            await self.app(scope, receive, send)
            return
        address = str(client[0])
        if (blocked := self.limiter.blocked(address)) is not None:
            self.limiter.metrics.refused(blocked)
            await _refuse(scope, receive, send, blocked)
            return
        swallowing = False

        async def counting_send(message: Message) -> None:
            nonlocal swallowing
            if swallowing:
                return
            if message["type"] == "http.response.start" and message["status"] == 401:
                usage = await run_in_threadpool(self.limiter.auth_failed, address)
                if usage.exceeded:
                    self.limiter.metrics.refused(usage)
                    swallowing = True  # the 401's body is dropped: the 429 is the answer
                    await _refuse(scope, receive, send, usage)
                    return
            await send(message)

        await self.app(scope, receive, counting_send)


class RateLimitMiddleware:
    """Requests and LLM tokens per minute of the request's key and tenant (set by the gate
    as `state["principal"]`): 429 past a limit, `X-RateLimit-*` headers on every answer
    that has a limit, the request's LLM tokens booked after its response."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state", {})
        principal = state.get("principal")
        if not _gated(scope) or not isinstance(principal, Principal):
            await self.app(scope, receive, send)
            return
        try:
            decision = await run_in_threadpool(self.limiter.admit, principal)
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            await domain_error_response(DatabaseUnavailable())(scope, receive, send)
            return
        if (refused := decision.refused) is not None:
            await _refuse(scope, receive, send, refused)
            return
        headers = decision.headers()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and headers:
                MutableHeaders(scope=message).update(headers)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            request_id = state.get("request_id")
            if decision.counted_at is not None and isinstance(request_id, str):
                await self._book(principal, request_id, decision.counted_at)

    async def _book(self, principal: Principal, request_id: str, since: datetime) -> None:
        """Book the request's LLM tokens; a failure is logged, the response is already out."""
        try:
            await run_in_threadpool(self.limiter.book_tokens, principal, request_id, since)
        except Exception as exc:
            log.warning("tokens of request %s not booked against its rate limits: %s",
                        request_id, type(exc).__name__)
