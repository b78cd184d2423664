"""The router's streaming failover loop: one answer stream across the planned candidates.

A stream that fails before its first token is replaced transparently by the next eligible
candidate. After tokens were sent, with `router.mid_stream = "continue"` (the default) the next
non-extractive candidate continues the answer (it gets the partial text and the `continue`
prompt) and a `Failover` event marks the seam; with "error", or when nobody can continue, the
stream ends with `StreamFailed`, which keeps the partial text.

Every attempt is admitted and booked through the router's `Accountant`, including one whose
consumer went away (closed the stream or was cancelled): that one is booked "cancelled".
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from pipelines.llm.accounting import CallState, counted_usage, exhausted, unexpected_error
from pipelines.llm.candidates import Candidate
from pipelines.llm.errors import ProviderError
from pipelines.llm.router_events import (
    CacheQuery,
    Failover,
    Finished,
    RouterEvent,
    Served,
    Started,
    StreamFailed,
)
from pipelines.llm.types import (
    ChatRequest,
    Message,
    SourcePassage,
    StreamEnd,
    StreamItem,
    TextDelta,
)

if TYPE_CHECKING:
    from pipelines.llm.router import Router


async def failover_stream(
    router: Router,
    call: CallState,
    cands: Sequence[Candidate],
    *,
    temperature: float,
    json_schema: dict[str, Any] | None,
    schema_name: str,
    passages: tuple[SourcePassage, ...],
    cache: CacheQuery | None,
) -> AsyncGenerator[RouterEvent, None]:
    """Try `cands` in order: Started, TextDelta..., then Finished or StreamFailed.

    Raises (before yielding anything) BudgetExceeded, NoProviderAvailable or ProviderError
    when no candidate produced a first token.
    """
    policy = router.config.policy(call.task)
    sent: list[str] = []
    served_by: Served | None = None
    for i, cand in enumerate(cands):
        if call.attempts and not policy.fallback:
            break
        if not router.eligible(call, cand, continuing=bool(sent)):
            continue
        reservation = await router.accounts.admit(call, cand)
        if reservation is None:
            continue
        this = router.served(call, cand)
        msgs = _continuation(router, cand, "".join(sent)) if sent else cand.messages
        req = ChatRequest(msgs, cand.model.model_name, max_tokens=cand.max_tokens,
                          temperature=temperature, json_schema=json_schema,
                          schema_name=schema_name, passages=passages)
        got: list[str] = []
        end: StreamEnd | None = None
        error: ProviderError | None = None
        t0 = time.perf_counter()
        ttft: float | None = None
        try:
            async with aclosing(_items(cand, req)) as items:
                async for item in items:
                    if isinstance(item, StreamEnd):
                        end = item
                        continue
                    if not item.text:
                        continue
                    if ttft is None:
                        ttft = time.perf_counter() - t0
                        kept = len("".join(sent))
                        if call.ttft_ms is None:
                            call.ttft_ms = call.ms()
                        yield (Started(this) if served_by is None
                               else Failover(this, call.errors[-1], kept))
                        served_by = this
                    got.append(item.text)
                    sent.append(item.text)
                    yield item
            if end is None:
                raise ProviderError("the stream ended without its end marker",
                                    provider=cand.model.provider, model=cand.model.id,
                                    before_first_token=ttft is None, kind="truncated")
        except ProviderError as exc:
            error = exc
        except Exception as exc:
            await router.accounts.book(call, cand, reservation, "error",
                                       counted_usage(cand, msgs, got),
                                       time.perf_counter() - t0, ttft, exc)
            raise unexpected_error(exc, cand) from exc
        except BaseException:  # the consumer went away (GeneratorExit / cancellation)
            await router.accounts.book(call, cand, reservation, "cancelled",
                                       counted_usage(cand, msgs, got),
                                       time.perf_counter() - t0, ttft, None)
            raise
        seconds = time.perf_counter() - t0
        if error is None and end is not None:
            usage = end.usage if end.usage.input_tokens or end.usage.output_tokens else (
                counted_usage(cand, msgs, got))
            await router.accounts.book(call, cand, reservation, "ok", usage, seconds, ttft, None)
            if served_by is None:
                served_by = this
                yield Started(this)
            text = "".join(sent)
            if cache is not None and not this.degraded and len(got) == len(sent):
                await router.cache_put(call, cand, cache, text, end.finish_reason)
            yield Finished(served_by, text, call.usage, call.cost, call.ms(),
                           call.ttft_ms, end.finish_reason,
                           tuple(call.attempts))
            return
        assert error is not None
        go_on = error.retryable and policy.fallback and (
            not sent or router.config.router.mid_stream == "continue")
        more = go_on and any(router.eligible(call, c, continuing=bool(sent))
                             for c in cands[i + 1:])
        await router.accounts.fail(call, cand, reservation, error,
                                   counted_usage(cand, msgs, got), seconds, ttft, more)
        if not go_on:
            if not sent:
                raise error
            yield StreamFailed(error, "".join(sent), served_by, call.cost,
                               tuple(call.attempts))
            return
    if not sent:
        raise exhausted(call)
    last = call.errors[-1] if call.errors else exhausted(call)
    yield StreamFailed(last, "".join(sent), served_by, call.cost, tuple(call.attempts))


def _continuation(router: Router, cand: Candidate, partial: str) -> tuple[Message, ...]:
    """The candidate's messages, the partial answer so far, and the `continue` prompt."""
    return (*cand.messages, Message("assistant", partial),
            *router.prompts.get("continue").render())


async def _items(cand: Candidate, req: ChatRequest) -> AsyncGenerator[StreamItem, None]:
    """The provider's stream, or its whole reply as one piece when it cannot stream."""
    if not cand.streaming:
        reply = await cand.provider.complete(req)
        yield TextDelta(reply.text)
        yield StreamEnd(reply.usage, reply.finish_reason)
        return
    stream = cand.provider.stream(req)
    try:
        async for item in stream:
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
