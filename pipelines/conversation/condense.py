"""A follow-up question rewritten into one that stands alone, for retrieval.

"And in 2024?" after "What was revenue in 2023?" finds nothing by itself: the condensed
question carries the subject over. With a chat model configured, the `condense` task (the
cheapest tier) rewrites it from the recent turns. Offline, or when that call fails, a
documented heuristic does: a follow-up that refers back (a pronoun such as it/they/that, an
opener such as "and", "what about", "how about", or fewer than three words of its own) gets
the previous turn's stand-alone question's content words it does not already have, in
parentheses: "And in 2024? (revenue)". The previous question's numbers are left out when the
follow-up brings numbers of its own (they are usually what changed). A question that stands
alone is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipelines.llm import LLMError, Router, RouteRequest

TASK = "condense"
PROMPT = "condense"
MAX_TURNS = 6
"""The most recent turns a rewrite looks at (older ones rarely matter and cost tokens)."""
MAX_ANSWER_CHARS = 600
_WORD = re.compile(r"[\w'’-]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())



_REFERRING = _words("""it its it's they them their theirs this that these those there he she
his her him such same former latter then""")
_OPENERS = ("and", "but", "also", "what about", "how about", "and what", "what else", "why",
            "how so", "same for", "or")
_STOP = _words("""a an the of in on at to for from by with and or but is are was were be been
being do does did what which who whom whose when where why how much many was it its this that
these those there their they them he she his her him me my we our you your i about also else
same such then than as into over under per vs versus tell show give list please""")

Method = Literal["none", "heuristic", "llm"]


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: what was asked, the stand-alone question that was searched for
    (None: the question itself), and the answer."""

    question: str
    answer: str
    query: str | None = None


@dataclass(frozen=True)
class Condensed:
    """The question retrieval searches for, and how it was made (`none`: as asked)."""

    text: str
    method: Method


def refers_back(question: str) -> bool:
    """Whether `question` leans on an earlier turn (see the module docstring)."""
    lowered = question.strip().lower()
    words = [w.lower() for w in _WORD.findall(question)]
    own = [w for w in words if w not in _STOP]
    return (any(w in _REFERRING for w in words) or lowered.startswith(_OPENERS)
            or len(own) < 3)


def condense_offline(history: Sequence[Turn], question: str) -> Condensed:
    """The heuristic rewrite (see the module docstring)."""
    if not history or not refers_back(question):
        return Condensed(question, "none")
    previous = history[-1].query or history[-1].question
    have = {w.lower() for w in _WORD.findall(question)}
    numbers_of_its_own = any(w.isdigit() for w in have)
    carried: list[str] = []
    for word in _WORD.findall(previous):
        lowered = word.lower()
        if lowered in _STOP or lowered in have or (numbers_of_its_own and word.isdigit()):
            continue
        have.add(lowered)
        carried.append(word)
    if not carried:
        return Condensed(question, "none")
    return Condensed(f"{question.strip()} ({' '.join(carried)})", "heuristic")


class Condenser:
    """Rewrites follow-ups with the router's `condense` task when a chat model can serve it,
    and with `condense_offline` otherwise (the extractive answerer cannot rewrite)."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def can_rewrite(self) -> bool:
        """Whether some model other than the extractive answerer would serve `condense`."""
        degrade = self.router.config.policy(TASK).degrade
        return any(not c.extractive and (degrade or not c.degraded)
                   for c in self.router.candidates(TASK))

    async def condense(self, history: Sequence[Turn], question: str, *, tenant: str,
                       request_id: str | None = None) -> Condensed:
        """The stand-alone question for `question` after `history` (oldest first)."""
        if not history:
            return Condensed(question, "none")
        if not self.can_rewrite():
            return condense_offline(history, question)
        prompt = self.router.prompts.get(PROMPT)
        turns = "\n".join(f"Q: {t.question}\nA: {t.answer[:MAX_ANSWER_CHARS]}"
                          for t in history[-MAX_TURNS:])
        try:
            result = await self.router.complete(RouteRequest(
                TASK, tenant, prompt.render(history=turns, question=question), prompt=prompt,
                request_id=request_id))
        except LLMError:
            return condense_offline(history, question)
        text = " ".join(result.text.split())
        return Condensed(text, "llm") if text else condense_offline(history, question)
