"""An offline provider that answers by quoting the retrieved passages, with `[n]` citations.

Why: lectern must answer with no model and no key (a fresh install, an air-gapped site, every
model tier down). Quoting the sentences that best match the question is honest, costs nothing
and keeps citations exact. Scoring is BM25 over sentences with light suffix stripping, so it
needs no embedder and is deterministic.

The question is the text after the last "Question:" in the latest user message that has one
(up to a blank line), or the whole last user message when none has; prompt templates that
render passages into the user message should end with "Question: ..." (answer@v1 does).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pipelines.llm.errors import ProviderError
from pipelines.llm.types import (
    Capabilities,
    ChatRequest,
    Completion,
    StreamEnd,
    StreamItem,
    TextDelta,
    TokenUsage,
)

NO_SOURCES = "No source passages were provided, so there is nothing to answer from."
NO_MATCH = "The sources do not contain enough information to answer this."  # as answer@v1
_STOPWORDS = frozenset(re.findall(r"\w+", """a about an and are as at be been by can could did do
does for from had has have how i if in into is it its me my of on or our should so than that the
their them then there these they this those to was we were what when where which who whom whose
why will with would you your please tell give explain describe list"""))
_K1, _B = 1.2, 0.75


@dataclass(frozen=True)
class _Sentence:
    n: int
    position: int
    text: str
    terms: Counter[str]


def stem(word: str) -> str:
    """A light stemmer: plural and -ing/-ed/-ly endings, and a final e, so that "lasts",
    "lasted" and "lasting" meet; both sides of a comparison go through it."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def terms(text: str) -> list[str]:
    """Stemmed words of `text`, stopwords removed."""
    return [stem(w) for w in re.findall(r"\w+", text.lower()) if w not in _STOPWORDS]


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage: paragraphs on blank lines, then on .!? before a capital/digit."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = re.sub(r"\s+", " ", paragraph).strip()
        out.extend(s for s in re.split(r"(?<=[.!?])\s+(?=[\"“(\[]?[A-Z0-9])", flat) if s)
    return out


def question_of(request: ChatRequest) -> str:
    """The question asked: after the last "Question:" of the latest user message that has one
    (a later "continue" message has none), else the whole last user message."""
    users = [m.content for m in request.messages if m.role == "user"]
    for user in reversed(users):
        markers = list(re.finditer(r"(?i)\bquestion\s*:", user))
        if markers:
            question = re.split(r"\n\s*\n", user[markers[-1].end():].strip(), maxsplit=1)[0]
            return re.sub(r"(?i)\s*answer\s*:\s*$", "", question).strip()
    return users[-1].strip() if users else ""


def cite(sentence: str, n: int) -> str:
    """`sentence` with `[n]` before its final punctuation."""
    if sentence[-1] in ".!?":
        return f"{sentence[:-1]} [{n}]{sentence[-1]}"
    return f"{sentence} [{n}]"


class ExtractiveProvider:
    """A `ChatProvider` that streams the best-matching passage sentences, cited, in source
    order: at most `max_sentences`, each scoring at least `min_relative_score` of the best.
    No network, no cost (usage is zero); structured output raises a non-retryable error.
    `timeout_s` is accepted, like every provider's, and unused: nothing here waits."""

    def __init__(self, name: str = "extractive", *, max_sentences: int = 5,
                 min_relative_score: float = 0.5, timeout_s: float | None = None) -> None:
        self.name = name
        self._max_sentences = max_sentences
        self._min_relative = min_relative_score

    def capabilities(self, model: str) -> Capabilities:
        """Streaming, extractive, local; no structured output."""
        return Capabilities(streaming=True, structured="none", extractive=True, local=True)

    async def complete(self, request: ChatRequest) -> Completion:
        """The whole extract as one reply."""
        parts = [item.text async for item in self.stream(request) if isinstance(item, TextDelta)]
        return Completion("".join(parts), TokenUsage(), "stop")

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """One delta per cited sentence (or one honest message), then `StreamEnd`."""
        if request.json_schema is not None:
            raise ProviderError(
                f"{self.name}: the extractive provider cannot produce structured output",
                provider=self.name, model=request.model, retryable=False, kind="unsupported")
        if not request.passages:
            pieces = [NO_SOURCES]
        else:
            chosen = self.select(question_of(request), request)
            pieces = [("" if i == 0 else " ") + cite(s.text, s.n) for i, s in enumerate(chosen)]
        for piece in pieces or [NO_MATCH]:
            yield TextDelta(piece)
            await asyncio.sleep(0)
        yield StreamEnd(TokenUsage(), "stop")

    def select(self, question: str, request: ChatRequest) -> list[_Sentence]:
        """The sentences that answer `question`, ordered by source number then position."""
        wanted = set(terms(question))
        seen: set[str] = set()
        sentences: list[_Sentence] = []
        for passage in request.passages:
            for position, text in enumerate(split_sentences(passage.text)):
                if text.lower() not in seen:
                    seen.add(text.lower())
                    sentences.append(_Sentence(passage.n, position, text, Counter(terms(text))))
        if not wanted or not sentences:
            return []
        scores = _bm25(wanted, sentences)
        best = max(scores)
        if best <= 0:
            return []
        ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
        keep = [i for i in ranked if scores[i] >= best * self._min_relative]
        chosen = [sentences[i] for i in keep[: self._max_sentences]]
        return sorted(chosen, key=lambda s: (s.n, s.position))


def _bm25(wanted: set[str], sentences: list[_Sentence]) -> list[float]:
    """BM25 of each sentence against the question terms, sentences as the documents."""
    count = len(sentences)
    avg_len = sum(sum(s.terms.values()) for s in sentences) / count or 1.0
    df = Counter(t for s in sentences for t in set(s.terms) if t in wanted)
    idf = {t: math.log(1 + (count - df[t] + 0.5) / (df[t] + 0.5)) for t in wanted}
    scores: list[float] = []
    for s in sentences:
        length = sum(s.terms.values())
        norm = _K1 * (1 - _B + _B * length / avg_len)
        scores.append(sum(idf[t] * s.terms[t] * (_K1 + 1) / (s.terms[t] + norm)
                          for t in wanted if s.terms[t]))
    return scores
