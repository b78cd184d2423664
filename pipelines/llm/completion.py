"""The router's whole-reply failover: one completion across the planned candidates.

A failed attempt restarts on the next eligible candidate (`attempts.CandidateLoop`). The reply
is booked "ok" with the provider's usage (counted locally when it reports none) and, unless
its model is degraded, stored in the answer cache when the request asked for it. With a JSON
schema, the text is the JSON the provider returned: validating it is the caller's job. The
tool calls of a reply go back with it; such a reply is never cached (the cache keeps text),
and a locally counted usage counts their names and arguments as output.
"""

from __future__ import annotations

import time
from dataclasses import replace

from pipelines.llm.accounting import CallState, exhausted, reply_usage, unexpected_error
from pipelines.llm.attempts import Admitted, CandidateLoop, Routing
from pipelines.llm.candidates import Candidate
from pipelines.llm.errors import ProviderError
from pipelines.llm.ledger import Outcome
from pipelines.llm.route_request import RouteRequest
from pipelines.llm.router_events import RoutedCompletion
from pipelines.llm.types import Completion, TokenUsage


async def complete_with_failover(routing: Routing, call: CallState, cands: list[Candidate],
                                 request: RouteRequest) -> RoutedCompletion:
    """Try `cands` in order until one replies.

    Raises BudgetExceeded, NoProviderAvailable or ProviderError when none did."""
    loop = CandidateLoop(routing, call, cands)
    while (admitted := await loop.next(continuing=False)) is not None:
        done = await _attempt(routing, call, loop, admitted, request)
        if done is not None:
            return done
    raise exhausted(call)


async def _attempt(routing: Routing, call: CallState, loop: CandidateLoop, admitted: Admitted,
                   request: RouteRequest) -> RoutedCompletion | None:
    """One call to the admitted candidate: its completion, or None when it failed and the
    next candidate takes over. Every outcome books one ledger row."""
    cand = admitted.cand
    req = request.chat_request(cand, cand.messages)
    t0 = time.perf_counter()
    try:
        reply = await cand.provider.complete(req)
    except ProviderError as exc:
        if not await loop.fail(admitted, exc, TokenUsage(), time.perf_counter() - t0, None,
                               continuing=False):
            raise
        return None
    except BaseException as exc:
        cancelled = not isinstance(exc, Exception)
        outcome: Outcome = "cancelled" if cancelled else "error"
        await routing.accounts.book(call, cand, admitted.reservation, outcome, TokenUsage(),
                                    time.perf_counter() - t0, None, exc)
        if cancelled:
            raise
        raise unexpected_error(exc, cand) from exc
    return await _replied(routing, call, admitted, request, reply, t0)


async def _replied(routing: Routing, call: CallState, admitted: Admitted,
                   request: RouteRequest, reply: Completion, t0: float) -> RoutedCompletion:
    """Book the reply "ok", cache it when asked, and total the request."""
    cand = admitted.cand
    served = routing.served(call, cand)
    if reply.structured is not None and reply.structured != served.structured:
        served = replace(served, structured=reply.structured)  # the adapter stepped down
    written = [reply.text, *(f"{c.name}{c.arguments}" for c in reply.tool_calls)]
    usage = reply_usage(reply.usage, cand, cand.messages, written)
    await routing.accounts.book(call, cand, admitted.reservation, "ok", usage,
                                time.perf_counter() - t0, None, None)
    if request.cache is not None and not served.degraded and not reply.tool_calls:
        await routing.remember(call, cand, request.cache, reply.text, reply.finish_reason)
    return RoutedCompletion(reply.text, call.usage, served, call.cost, call.ms(),
                            reply.finish_reason, tuple(call.attempts), reply.tool_calls)
