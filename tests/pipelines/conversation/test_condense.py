"""The offline rewrite of a follow-up: what counts as referring back, what is carried over."""

from __future__ import annotations

import pytest

from pipelines.conversation import Condensed, Turn, condense_offline, refers_back

REVENUE = Turn("What was the revenue in 2023?", "Revenue grew to 4.2 million euros [1].")


@pytest.mark.parametrize("question", ["And in 2022?", "What about net income?",
                                      "How did it change?", "Why?", "Is that audited?"])
def test_follow_ups_refer_back(question: str) -> None:
    assert refers_back(question)


@pytest.mark.parametrize("question", ["Who is the CEO of Northwind Outfitters?",
                                      "How long is the projector warranty?"])
def test_questions_that_stand_alone_are_kept(question: str) -> None:
    assert not refers_back(question)
    assert condense_offline([REVENUE], question) == Condensed(question, "none")


def test_the_subject_is_carried_over_without_the_previous_numbers() -> None:
    assert condense_offline([REVENUE], "And in 2022?") == Condensed(
        "And in 2022? (revenue)", "heuristic")
    assert condense_offline([REVENUE], "What about net income?") == Condensed(
        "What about net income? (revenue 2023)", "heuristic")


def test_chains_carry_the_stand_alone_question_of_the_last_turn() -> None:
    second = Turn("And in 2022?", "3.75 million euros [1].", query="And in 2022? (revenue)")
    assert condense_offline([REVENUE, second], "Why?").text == "Why? (2022 revenue)"


def test_no_history_means_no_rewrite() -> None:
    assert condense_offline([], "And in 2022?") == Condensed("And in 2022?", "none")
