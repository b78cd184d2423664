"""The router's streaming failover loop: one answer stream across the planned candidates.

A stream that fails before its first token is replaced transparently by the next eligible
candidate. After tokens were sent, with `router.mid_stream = "continue"` (the default) the next
non-extractive candidate continues the answer (it gets the partial text and the `continue`
prompt) and a `Failover` event marks the seam; with "error", or when nobody can continue, the
stream ends with `StreamFailed`, which keeps the partial text. A reply that began a tool call
(`ToolCallDelta`s, for a request that offered tools) is never continued by another model: a
half-made call cannot be handed over, so it ends with `StreamFailed` too.

Every attempt is admitted and booked through the router's `Accountant`, including one whose
consumer went away (closed the stream or was cancelled): that one is booked "cancelled".
The steps: `failover_stream` walks the candidates (`attempts.CandidateLoop`); `_relay` streams
one attempt to the consumer; `_succeed` books a finished attempt and ends the stream; a failed
one is booked by the loop, which says whether the next candidate takes over.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from pipelines.llm.accounting import (
    CallState,
    counted_usage,
    exhausted,
    reply_usage,
    unexpected_error,
)
from pipelines.llm.attempts import Admitted, CandidateLoop, Routing
from pipelines.llm.candidates import Candidate
from pipelines.llm.errors import LLMError, ProviderError
from pipelines.llm.ledger import Outcome
from pipelines.llm.route_request import RouteRequest
from pipelines.llm.router_events import (
    Failover,
    Finished,
    RouterEvent,
    Served,
    Started,
    StreamFailed,
)
from pipelines.llm.types import (
    ChatRequest,
    StreamEnd,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
    ToolStreamItem,
)


@dataclass
class _Answer:
    """What the consumer was sent so far, over all attempts, and who started the answer."""

    sent: list[str] = field(default_factory=list)
    served_by: Served | None = None
    tool_pieces: int = 0  # tool-call deltas sent

    @property
    def text(self) -> str:
        return "".join(self.sent)


@dataclass
class _Try:
    """One attempt's stream: who serves it, what it was asked, and what came back when."""

    admitted: Admitted
    served: Served
    request: ChatRequest
    t0: float = field(default_factory=time.perf_counter)
    got: list[str] = field(default_factory=list)
    tool_text: list[str] = field(default_factory=list)  # names and argument pieces
    ttft: float | None = None
    end: StreamEnd | None = None
    error: ProviderError | None = None

    @property
    def cand(self) -> Candidate:
        return self.admitted.cand

    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    def usage(self) -> TokenUsage:
        """The tokens of what arrived, counted locally (the stream broke off)."""
        return counted_usage(self.cand, self.request.messages, self.written())

    def written(self) -> list[str]:
        """Everything the model wrote in this attempt: text, then tool-call pieces."""
        return [*self.got, *self.tool_text]


async def failover_stream(routing: Routing, call: CallState, cands: Sequence[Candidate],
                          request: RouteRequest) -> AsyncGenerator[RouterEvent, None]:
    """Try `cands` in order: Started, TextDelta..., then Finished or StreamFailed.

    Raises (before yielding anything) BudgetExceeded, NoProviderAvailable or ProviderError
    when no candidate produced a first token.
    """
    answer = _Answer()
    loop = CandidateLoop(routing, call, cands)
    while (admitted := await loop.next(continuing=bool(answer.sent))) is not None:
        attempt = _begin(routing, call, admitted, answer, request)
        async with aclosing(_relay(routing, call, attempt, answer)) as events:
            async for event in events:
                yield event
        if attempt.error is None:
            async with aclosing(_succeed(routing, call, attempt, answer, request)) as events:
                async for event in events:
                    yield event
            return
        seconds = attempt.seconds()
        if answer.tool_pieces:  # a tool call under way: nobody can take it over
            await routing.accounts.fail(call, admitted.cand, admitted.reservation,
                                        attempt.error, attempt.usage(), seconds, attempt.ttft,
                                        False)
            yield _failed(call, attempt.error, answer)
            return
        if not await loop.fail(admitted, attempt.error, attempt.usage(), seconds, attempt.ttft,
                               continuing=bool(answer.sent)):
            if not answer.sent:
                raise attempt.error
            yield _failed(call, attempt.error, answer)
            return
    if not answer.sent:
        raise exhausted(call)
    yield _failed(call, call.errors[-1] if call.errors else exhausted(call), answer)


def _begin(routing: Routing, call: CallState, admitted: Admitted, answer: _Answer,
           request: RouteRequest) -> _Try:
    """An attempt of the admitted candidate: with the whole prompt, or continuing the answer
    so far when one is under way."""
    served = routing.served(call, admitted.cand)
    messages = (routing.continuation(admitted.cand, answer.text) if answer.sent
                else admitted.cand.messages)
    return _Try(admitted, served, request.chat_request(admitted.cand, messages))


async def _relay(routing: Routing, call: CallState, attempt: _Try,
                 answer: _Answer) -> AsyncGenerator[RouterEvent, None]:
    """Stream one attempt to the consumer; it ends with `attempt.end` set, or `attempt.error`.

    A provider error is left for the loop to book; any other failure, and a consumer that went
    away, are booked here ("error", "cancelled") and raised."""
    try:
        async with aclosing(_items(attempt.cand, attempt.request)) as items:
            async for item in items:
                if isinstance(item, StreamEnd):
                    attempt.end = item
                elif isinstance(item, ToolCallDelta):
                    if attempt.ttft is None:
                        yield _first_token(call, attempt, answer)
                    attempt.tool_text.append(f"{item.name or ''}{item.arguments}")
                    answer.tool_pieces += 1
                    yield item
                elif item.text:
                    if attempt.ttft is None:
                        yield _first_token(call, attempt, answer)
                    attempt.got.append(item.text)
                    answer.sent.append(item.text)
                    yield item
        if attempt.end is None:
            raise _truncated(attempt)
    except ProviderError as exc:
        attempt.error = exc
    except Exception as exc:
        await _book(routing, call, attempt, "error", exc)
        raise unexpected_error(exc, attempt.cand) from exc
    except BaseException:  # the consumer went away (GeneratorExit / cancellation)
        await _book(routing, call, attempt, "cancelled", None)
        raise


def _first_token(call: CallState, attempt: _Try, answer: _Answer) -> Started | Failover:
    """Note the attempt's first token; returns the event to send before it: `Started`, or
    `Failover` when another model began the answer."""
    attempt.ttft = time.perf_counter() - attempt.t0
    if call.ttft_ms is None:
        call.ttft_ms = call.ms()
    first = answer.served_by is None
    event = (Started(attempt.served) if first
             else Failover(attempt.served, call.errors[-1], len(answer.text)))
    answer.served_by = attempt.served
    return event


def _truncated(attempt: _Try) -> ProviderError:
    """The error of a stream that ended without its end marker."""
    m = attempt.cand.model
    return ProviderError("the stream ended without its end marker", provider=m.provider,
                         model=m.id, before_first_token=attempt.ttft is None, kind="truncated")


async def _book(routing: Routing, call: CallState, attempt: _Try, outcome: Outcome,
                error: BaseException | None) -> None:
    """Book an attempt that stopped for another reason than a provider error."""
    usage = attempt.usage()
    await routing.accounts.book(call, attempt.cand, attempt.admitted.reservation, outcome,
                                usage, attempt.seconds(), attempt.ttft, error)


async def _succeed(routing: Routing, call: CallState, attempt: _Try, answer: _Answer,
                   request: RouteRequest) -> AsyncGenerator[RouterEvent, None]:
    """Book the finished attempt "ok", cache a whole answer when asked, and end the stream."""
    assert attempt.end is not None
    seconds = attempt.seconds()
    usage = reply_usage(attempt.end.usage, attempt.cand, attempt.request.messages,
                        attempt.written())
    await routing.accounts.book(call, attempt.cand, attempt.admitted.reservation, "ok", usage,
                                seconds, attempt.ttft, None)
    if answer.served_by is None:  # nothing was sent: the reply was empty
        answer.served_by = attempt.served
        yield Started(attempt.served)
    # Not a continuation of another model's text, and no tool calls (the cache keeps text).
    whole = len(attempt.got) == len(answer.sent) and not answer.tool_pieces
    if request.cache is not None and not attempt.served.degraded and whole:
        await routing.remember(call, attempt.cand, request.cache, answer.text,
                               attempt.end.finish_reason)
    yield Finished(answer.served_by, answer.text, call.usage, call.cost, call.ms(),
                   call.ttft_ms, attempt.end.finish_reason, tuple(call.attempts))


def _failed(call: CallState, error: LLMError, answer: _Answer) -> StreamFailed:
    """The end of an answer that broke after tokens were sent (they stay delivered)."""
    return StreamFailed(error, answer.text, answer.served_by, call.cost, tuple(call.attempts))


async def _items(cand: Candidate, req: ChatRequest) -> AsyncGenerator[ToolStreamItem, None]:
    """The provider's stream, or its whole reply as one piece when it cannot stream."""
    if not cand.streaming:
        reply = await cand.provider.complete(req)
        yield TextDelta(reply.text)
        for index, tool_call in enumerate(reply.tool_calls):
            yield ToolCallDelta(index, tool_call.id, tool_call.name, tool_call.arguments)
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
