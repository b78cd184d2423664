"""The question set over `samples/` (tests/support/extractive_qa.py), answered by the
extractive provider from the samples' own text: every page of every sample (the report twice,
as the PDF and as the scan's text, and page 2 a third time) as a numbered passage under its
answer@v1 header, so copies, headings, tables, a receipt and a Markdown note all compete.
`python -m bench.answers` asks the same set through real ingestion and search."""

from __future__ import annotations

import pytest

from pipelines.llm.prompts import PromptRegistry
from pipelines.llm.providers.extractive import ExtractiveProvider
from pipelines.llm.types import ChatRequest, SourcePassage
from tests.support.extractive_qa import QA, QUESTIONS, grade, sample_texts


def sample_request(question: str) -> ChatRequest:
    """The question over every sample page, rendered by the real answer@v1 prompt."""
    passages: list[SourcePassage] = []
    blocks: list[str] = []
    for name, text in sample_texts().items():
        for page, body in enumerate(text.split("\f"), start=1):
            if body.strip():
                passages.append(SourcePassage(len(passages) + 1, body.strip()))
                blocks.append(f"[{len(passages)}] {name}, p. {page}\n{body.strip()}")
    messages = PromptRegistry().get("answer").render(question=question,
                                                     sources="\n\n".join(blocks))
    return ChatRequest(messages=messages, model="extractive", passages=tuple(passages))


@pytest.mark.parametrize("qa", QUESTIONS, ids=[qa.question for qa in QUESTIONS])
async def test_each_sample_question(qa: QA) -> None:
    answer = (await ExtractiveProvider().complete(sample_request(qa.question))).text
    g = grade(qa, answer)
    assert g.ok, answer
    if qa.answer is not None and not qa.paraphrase:
        assert g.sentences == 1, answer  # the answer alone: nothing padded after it


def test_the_set_has_unanswerable_and_paraphrased_questions() -> None:
    assert sum(qa.answer is None for qa in QUESTIONS) >= 5
    assert sum(qa.paraphrase for qa in QUESTIONS) >= 3
    assert len(QUESTIONS) >= 20
