"""Context assembly on hand-made hits: merging neighbours, numbering, budget fitting, citations.

These are pure functions over `Hit` values; `test_search_context.py` runs the same assembly on
hits that come out of the real database and chunker.
"""

from __future__ import annotations

import uuid

import pytest

from retrieval.context import (
    TRUNCATION_MARKER,
    assemble_context,
    merge_text,
    render,
)
from retrieval.errors import InvalidBudget
from retrieval.types import Hit

DOC = uuid.UUID(int=1)
OTHER = uuid.UUID(int=2)
# A document text; chunks below are exact slices of it with overlaps, like the chunker's.
TEXT = (
    "Revenue rose to $48.2 million in 2024. Online sales grew by 31%. "
    "Store sales grew by 4%. Gross margin improved to 47.3%. Costs were flat."
)


def words(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def hit(
    ordinal: int,
    start: int,
    end: int,
    *,
    document: uuid.UUID = DOC,
    page: int = 1,
    score: float = 0.5,
    section: str = "Results > Revenue",
    text: str | None = None,
) -> Hit:
    return Hit(
        chunk_id=ordinal + (1000 if document == OTHER else 0),
        document_id=document,
        filename="report.pdf" if document == DOC else "other.pdf",
        collection="default",
        ordinal=ordinal,
        text=TEXT[start:end] if text is None else text,
        section=section,
        section_path=tuple(section.split(" > ")),
        page_start=page,
        page_end=page,
        char_start=start,
        char_end=end,
        token_count=10,
        content_hash="h",
        score=score,
        vector_score=score,
        text_score=None,
        vector_rank=None,
        text_rank=None,
        fused_score=score,
        rank=0,
    )


# Chunk boundaries: 0 [0, 64), 1 [39, 88) overlapping 0, 2 [89, 137) after a one-space gap.
C0, C1, C2 = (0, 64), (39, 88), (89, 137)


def test_adjacent_and_overlapping_chunks_become_one_source_with_text_once() -> None:
    hits = [hit(1, *C1, page=2, score=0.8), hit(0, *C0, page=1, score=0.6), hit(2, *C2, page=3)]
    context = assemble_context(hits, budget_tokens=1000, count_tokens=words)
    assert len(context.sources) == 1
    source = context.sources[0]
    assert source.text == TEXT  # overlap cut by offsets, the one-char gap kept as a space
    assert source.chunk_ids == (0, 1, 2)
    assert (source.page_start, source.page_end) == (1, 3)
    assert source.score == 0.8
    assert source.document_id == DOC and source.section == "Results > Revenue"


def test_non_adjacent_chunks_and_other_documents_stay_separate_numbered_by_rank() -> None:
    hits = [
        hit(5, *C2, score=0.9, section="Costs"),
        hit(3, 10, 30, document=OTHER, score=0.8),
        hit(0, *C0, score=0.7),  # ordinal 0 is not next to 5: a separate source of DOC
    ]
    context = assemble_context(hits, budget_tokens=1000, count_tokens=words)
    assert [(s.n, s.document_id, s.chunk_ids) for s in context.sources] == [
        (1, DOC, (5,)),
        (2, OTHER, (1003,)),
        (3, DOC, (0,)),
    ]
    assert context.text.startswith("[1] report.pdf, p. 1 — Costs\n")
    assert "\n\n[2] other.pdf, p. 1 — Results > Revenue\n" in context.text


def test_merged_source_takes_the_rank_of_its_best_hit() -> None:
    hits = [hit(9, 0, 10, document=OTHER), hit(2, *C2), hit(1, *C1)]
    context = assemble_context(hits, budget_tokens=1000, count_tokens=words)
    assert [s.chunk_ids for s in context.sources] == [(1009,), (1, 2)]


def test_text_merge_falls_back_to_string_overlap_when_offsets_do_not_match_the_text() -> None:
    first = hit(0, 0, 20, text="alpha beta gamma delta")
    second = hit(1, 15, 40, text="gamma delta epsilon")  # offsets claim 25 chars, text has 19
    assert merge_text([first, second]) == "alpha beta gamma delta epsilon"


def test_budget_drops_lowest_ranked_sources_first() -> None:
    hits = [hit(0, *C0, score=0.9), hit(0, 0, 20, document=OTHER, score=0.8)]
    full = assemble_context(hits, budget_tokens=1000, count_tokens=words)
    assert len(full.sources) == 2
    first_only = words(render(full.sources[0]))
    context = assemble_context(hits, budget_tokens=first_only + 2, count_tokens=words)
    assert [s.chunk_ids for s in context.sources] == [(0,)]
    assert context.dropped == 1
    assert context.token_count <= first_only + 2
    assert not context.sources[0].truncated and TRUNCATION_MARKER not in context.text


def test_a_single_source_over_budget_is_cut_at_a_sentence_and_marked() -> None:
    # The header takes 8 "tokens"; two sentences and the marker take 13 more; a third would not fit.
    context = assemble_context([hit(0, 0, len(TEXT))], budget_tokens=24, count_tokens=words)
    (source,) = context.sources
    assert source.truncated
    assert source.text == "Revenue rose to $48.2 million in 2024. Online sales grew by 31%." + (
        TRUNCATION_MARKER
    )
    assert context.token_count == 21
    assert context.text.endswith(TRUNCATION_MARKER)


def test_budget_too_small_for_anything_is_an_error_not_an_empty_context() -> None:
    with pytest.raises(InvalidBudget) as caught:
        assemble_context([hit(0, *C0)], budget_tokens=2, count_tokens=words)
    assert caught.value.http_status == 422
    with pytest.raises(InvalidBudget):
        assemble_context([hit(0, *C0)], budget_tokens=0, count_tokens=words)


def test_no_hits_give_an_empty_context() -> None:
    context = assemble_context([], budget_tokens=100, count_tokens=words)
    assert context.empty and context.text == "" and context.token_count == 0


def test_each_numbered_source_keeps_what_its_citation_points_to() -> None:
    hits = [hit(0, *C0, page=3), hit(4, 0, 20, document=OTHER, page=7, section="Costs")]
    context = assemble_context(hits, budget_tokens=1000, count_tokens=words)
    assert [(s.n, s.document_id, s.filename, s.page_start, s.section)
            for s in context.sources] == [
        (1, DOC, "report.pdf", 3, "Results > Revenue"),
        (2, OTHER, "other.pdf", 7, "Costs"),
    ]
