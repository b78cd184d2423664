"""Sources numbered in citation order for the extractive answerer, as the events go out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence

from pipelines.answer import AnswerEvent, Done, Meta, Sources, Token, Usage
from pipelines.answer.citations import in_citation_order, renumber
from retrieval.types import Source


def _source(n: int) -> Source:
    return Source(n, uuid.UUID(int=n), f"doc{n}.pdf", 1, 1, "", 1 - n / 10, f"text {n}", (n,))


SOURCES = tuple(_source(n) for n in (1, 2, 3, 4))


def test_the_first_cited_source_becomes_one_and_uncited_ones_follow() -> None:
    text, numbered = renumber("Best [3]. Next [1] and [3] again. Not a source [9].", SOURCES)
    assert text == "Best [1]. Next [2] and [1] again. Not a source [9]."
    assert [(s.n, s.filename) for s in numbered] == [
        (1, "doc3.pdf"), (2, "doc1.pdf"), (3, "doc2.pdf"), (4, "doc4.pdf")]


async def _events(items: Sequence[AnswerEvent]) -> AsyncGenerator[AnswerEvent, None]:
    for item in items:
        yield item


async def _through(extractive: bool) -> list[AnswerEvent]:
    meta = Meta("r", "p", "m", "free", "answer@v1", extractive=extractive)
    items = [meta, Sources(SOURCES), Token("Quoted [2]"), Token(" and [4]."),
             Usage(0, 0, 0.0, 1, 2, 1, 1), Done("stop")]
    return [event async for event in in_citation_order(_events(items))]


async def test_an_extractive_answer_is_renumbered_before_it_is_sent() -> None:
    out = await _through(extractive=True)
    assert [e.name for e in out] == ["meta", "sources", "token", "usage", "done"]
    assert isinstance(out[1], Sources) and isinstance(out[2], Token)
    assert [s.filename for s in out[1].sources][:2] == ["doc2.pdf", "doc4.pdf"]
    assert out[2].text == "Quoted [1] and [2]."


async def test_a_model_answer_streams_as_it_came() -> None:
    out = await _through(extractive=False)
    assert [e.name for e in out] == ["meta", "sources", "token", "token", "usage", "done"]
    assert isinstance(out[1], Sources) and out[1].sources == SOURCES
