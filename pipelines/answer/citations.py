"""Sources numbered in the order the answer cites them, for answers known whole up front.

A model's answer streams token by token after the `sources` event, so its sources keep their
retrieval order. The extractive answerer's answer is complete at once (it quotes sentences,
best first), so it is held back until it ends and renumbered: the first source it cites
becomes [1], the next new one [2], and so on; sources it does not cite follow in their
retrieval order. The `[n]` markers in the text are rewritten to match. A stream that hands
over to another model, or breaks, is let through as it came.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from pipelines.answer.events import AnswerError, AnswerEvent, Handover, Meta, Sources, Token
from retrieval.types import Source

_CITATION = re.compile(r"\[(\d+)\]")


def renumber(text: str, sources: Sequence[Source]) -> tuple[str, tuple[Source, ...]]:
    """`text` and `sources` with sources numbered by first citation (module docstring)."""
    known = {s.n for s in sources}
    cited = list(dict.fromkeys(int(m) for m in _CITATION.findall(text) if int(m) in known))
    order = cited + [s.n for s in sources if s.n not in cited]
    new_number = {old: new for new, old in enumerate(order, 1)}
    rewritten = _CITATION.sub(
        lambda m: f"[{new_number.get(int(m.group(1)), int(m.group(1)))}]", text)
    by_number = {s.n: s for s in sources}
    return rewritten, tuple(dataclasses.replace(by_number[old], n=new_number[old])
                            for old in order)


async def in_citation_order(events: AsyncIterator[AnswerEvent]
                            ) -> AsyncGenerator[AnswerEvent, None]:
    """`events`, with an extractive answer held back and renumbered (module docstring)."""
    first = await anext(events, None)
    if first is None:
        return
    yield first
    if isinstance(first, Meta) and first.extractive:
        sources = Sources(())
        parts: list[str] = []
        async for event in events:
            if isinstance(event, Sources):
                sources = event
            elif isinstance(event, Token):
                parts.append(event.text)
            else:
                text = "".join(parts)
                if not isinstance(event, Handover | AnswerError):
                    text, numbered = renumber(text, sources.sources)
                    sources = Sources(numbered)
                yield sources
                if text:
                    yield Token(text)
                yield event
                break
    async for event in events:
        yield event
