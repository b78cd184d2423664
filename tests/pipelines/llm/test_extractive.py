"""The extractive provider: picks the right sentences, cites them, and is honest otherwise."""

from __future__ import annotations

import pytest

from pipelines.llm.errors import ProviderError
from pipelines.llm.providers.extractive import (
    NO_MATCH,
    NO_SOURCES,
    ExtractiveProvider,
    question_of,
    split_sentences,
    stem,
)
from pipelines.llm.types import ChatRequest, Message, SourcePassage, StreamEnd, TextDelta

PASSAGES = (
    SourcePassage(1, "Acme Corp was founded in 1998 in Oslo. It makes industrial pumps.\n"
                     "The company has 300 employees."),
    SourcePassage(2, "The standard warranty on all pumps lasts two years. Returns are accepted "
                     "within 30 days of delivery."),
    SourcePassage(3, "Pumps must be serviced every six months.\n\nService is performed by "
                     "certified technicians."),
)


def ask(question: str, passages: tuple[SourcePassage, ...] = PASSAGES, **kw: object
        ) -> ChatRequest:
    prompt = "Sources:\n" + "\n".join(f"[{p.n}] {p.text}" for p in passages)
    return ChatRequest(
        messages=(Message("system", "Answer only from the sources."),
                  Message("user", f"{prompt}\n\nQuestion: {question}\n\nAnswer:")),
        model="extractive", passages=passages, **kw)  # type: ignore[arg-type]


async def answer(request: ChatRequest, provider: ExtractiveProvider | None = None
                 ) -> tuple[list[str], StreamEnd]:
    deltas: list[str] = []
    ends: list[StreamEnd] = []
    async for item in (provider or ExtractiveProvider()).stream(request):
        if isinstance(item, TextDelta):
            deltas.append(item.text)
        else:
            ends.append(item)
    assert len(ends) == 1
    return deltas, ends[0]


async def test_picks_the_matching_sentence_with_its_source_number() -> None:
    deltas, end = await answer(ask("How long does the warranty last?"))
    assert "".join(deltas) == "The standard warranty on all pumps lasts two years [2]."
    assert end.usage.input_tokens == 0 and end.usage.output_tokens == 0


async def test_founding_question_cites_source_one() -> None:
    deltas, _ = await answer(ask("When was Acme founded?"))
    assert "".join(deltas) == "Acme Corp was founded in 1998 in Oslo [1]."


async def test_orders_by_source_then_position_and_streams_per_sentence() -> None:
    shuffled = (PASSAGES[2], PASSAGES[0], PASSAGES[1])
    deltas, _ = await answer(ask("Which pumps?", shuffled))
    assert deltas == ["It makes industrial pumps [1].",
                      " The standard warranty on all pumps lasts two years [2].",
                      " Pumps must be serviced every six months [3]."]


async def test_at_most_max_sentences() -> None:
    many = tuple(SourcePassage(i, f"Pumps model {i} are blue. Cats sleep.") for i in range(1, 9))
    deltas, _ = await answer(ask("blue pumps", many), ExtractiveProvider(max_sentences=5))
    assert len(deltas) == 5
    assert deltas[0] == "Pumps model 1 are blue [1]."


async def test_no_match_is_an_honest_message() -> None:
    deltas, _ = await answer(ask("What is the capital of Peru?"))
    assert deltas == [NO_MATCH]


async def test_no_passages_says_so() -> None:
    deltas, _ = await answer(ask("How long is the warranty?", ()))
    assert deltas == [NO_SOURCES]


async def test_complete_joins_the_stream() -> None:
    completion = await ExtractiveProvider().complete(ask("How many employees?"))
    assert completion.text == "The company has 300 employees [1]."


async def test_structured_output_is_refused_without_retry() -> None:
    request = ask("warranty?", json_schema={"type": "object"})
    with pytest.raises(ProviderError) as info:
        await ExtractiveProvider().complete(request)
    assert not info.value.retryable and info.value.details["kind"] == "unsupported"


def test_question_is_taken_after_the_last_marker_or_whole_message() -> None:
    assert question_of(ask("How long does the warranty last?")) == \
        "How long does the warranty last?"
    plain = ChatRequest(messages=(Message("user", "warranty length"),), model="m")
    assert question_of(plain) == "warranty length"
    continued = ChatRequest(messages=(*ask("When was Acme founded?").messages,
                                      Message("assistant", "Acme"),
                                      Message("user", "Continue where you stopped.")), model="m")
    assert question_of(continued) == "When was Acme founded?"


def test_stemming_and_sentence_splitting() -> None:
    assert stem("lasts") == stem("lasted") == stem("lasting") == stem("last")
    assert stem("warranties") == stem("warranty")
    assert split_sentences("One e.g. two. Three is\nwrapped.\n\nFour") == \
        ["One e.g. two.", "Three is wrapped.", "Four"]


def test_capabilities_say_extractive() -> None:
    caps = ExtractiveProvider().capabilities("any")
    assert caps.extractive and caps.local and caps.structured == "none"
