"""An offline provider that answers by quoting the retrieved passages, with `[n]` citations.

Why: lectern must answer with no model and no key (a fresh install, an air-gapped site, every
model tier down). Quoting the sentences that answer the question is honest, costs nothing and
keeps citations exact. The answer is the sentence that best answers the question, then only
those nearly as relevant, each a whole sentence quoted once, without the document's own
citation markers; bibliographies are never quoted. When no sentence answers well (a key term
such as a year or a name appears in no passage, or the best sentence is weak) the answer says
the sources do not contain it and quotes the closest sentences. Reading passages is
`extractive_text`, choosing sentences `extractive_rank`; without an embedder the choice is
lexical and deterministic, with one (the `embedder` seam) it blends in sentence cosines.

The question is the text after the last "Question:" in the latest user message that has one
(up to a blank line), or the whole last user message when none has; prompt templates that
render passages into the user message should end with "Question: ..." (answer@v1 does). The
header line answer@v1 renders above each passage ("[n] file, p. 2 — Section") is read as that
passage's context when it is there.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from pipelines.llm.errors import ProviderError
from pipelines.llm.providers.extractive_rank import (
    KEEP_RATIO,
    MIN_RELEVANCE,
    Candidate,
    Choice,
    SentenceEmbedder,
    analyse,
    choose,
    embed_candidates,
    gather,
)
from pipelines.llm.providers.extractive_text import split_sentences, stem, terms
from pipelines.llm.types import (
    Capabilities,
    ChatRequest,
    Completion,
    StreamEnd,
    StreamItem,
    TextDelta,
    TokenUsage,
)

__all__ = ["NO_MATCH", "NO_SOURCES", "ExtractiveProvider", "SentenceEmbedder", "cite",
           "question_of", "split_sentences", "stem", "terms"]

NO_SOURCES = "No source passages were provided, so there is nothing to answer from."
NO_MATCH = "The sources do not contain enough information to answer this."  # as answer@v1
CLOSEST = "The closest passages say:"


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


def headers_of(request: ChatRequest) -> dict[int, str]:
    """Each passage's header line as answer@v1 renders it above the passage ("[2] report.pdf,
    pp. 2–3 — Results > Revenue"), reduced to the file's name and the section; passages whose
    header is not in the prompt are left out."""
    prompt = "\n".join(m.content for m in request.messages if m.role == "user")
    found: dict[int, str] = {}
    for p in request.passages:
        head = re.escape(p.text.lstrip()[:40])
        match = re.search(rf"^\[{p.n}\] ([^\n]*)\n\s*{head}", prompt, re.M) if head else None
        if match:
            line = re.sub(r",\s*pp?\.\s*[\d–-]+", " ", match.group(1))
            found[p.n] = re.sub(r"\.(?:pdf|png|jpe?g|tiff?|md|txt|docx?|html?)\b", " ", line)
    return found


def cite(sentence: str, n: int) -> str:
    """`sentence` with `[n]` before its final punctuation (after it for a line without)."""
    if sentence[-1] in ".!?":
        return f"{sentence[:-1]} [{n}]{sentence[-1]}"
    return f"{sentence} [{n}]."


class ExtractiveProvider:
    """A `ChatProvider` that streams the sentences that answer the question, cited: the best
    first, then at most `max_sentences - 1` more whose score is at least `min_relative_score`
    of the best's, in reading order; or an honest "not in the sources" with the closest ones.
    `embedder` (optional) blends sentence cosines into the relevance; it runs in a worker
    thread. No network, no cost (usage is zero); structured output raises a non-retryable
    error. `timeout_s` is accepted, like every provider's, and unused: nothing here waits."""

    def __init__(self, name: str = "extractive", *, max_sentences: int = 5,
                 min_relative_score: float = KEEP_RATIO, min_relevance: float = MIN_RELEVANCE,
                 embedder: SentenceEmbedder | None = None,
                 timeout_s: float | None = None) -> None:
        self.name = name
        self._max_sentences = max_sentences
        self._min_relative = min_relative_score
        self._min_relevance = min_relevance
        self._embedder = embedder

    def capabilities(self, model: str) -> Capabilities:
        """Streaming, extractive, local; no structured output."""
        return Capabilities(streaming=True, structured="none", extractive=True, local=True)

    async def complete(self, request: ChatRequest) -> Completion:
        """The whole extract as one reply."""
        parts = [item.text async for item in self.stream(request) if isinstance(item, TextDelta)]
        return Completion("".join(parts), TokenUsage(), "stop")

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """One delta per cited sentence (or the honest message and the closest sentences),
        then `StreamEnd`."""
        if request.json_schema is not None:
            raise ProviderError(
                f"{self.name}: the extractive provider cannot produce structured output",
                provider=self.name, model=request.model, retryable=False, kind="unsupported")
        if not request.passages:
            pieces = [NO_SOURCES]
        elif self._embedder is not None:
            pieces = render(await asyncio.to_thread(self.select, request))
        else:
            pieces = render(self.select(request))
        for piece in pieces:
            yield TextDelta(piece)
            await asyncio.sleep(0)
        yield StreamEnd(TokenUsage(), "stop")

    def select(self, request: ChatRequest) -> Choice:
        """What to say to the request's question (blocking: it may run the embedder)."""
        question = question_of(request)
        asked = analyse(question)
        candidates = gather([(p.n, p.text) for p in request.passages], headers_of(request))
        cosines = None
        if self._embedder is not None and asked.terms and candidates:
            cosines = embed_candidates(self._embedder, question, candidates)
        return choose(asked, candidates, max_sentences=self._max_sentences, cosines=cosines,
                      min_relevance=self._min_relevance, keep_ratio=self._min_relative)


def render(choice: Choice) -> list[str]:
    """The answer's deltas: cited sentences; or `NO_MATCH`, the key terms no passage
    mentions, and the closest sentences quoted."""
    if choice.answerable:
        return [("" if i == 0 else " ") + cite(s.text, s.n)
                for i, s in enumerate(choice.sentences)]
    out = [NO_MATCH]
    if choice.missing:
        named = ", ".join(f"“{w}”" for w in choice.missing)
        out.append(f" They do not mention {named}.")
    if choice.sentences:
        out.append(f" {CLOSEST}")
        out += [f" {_quoted(s)}" for s in choice.sentences]
    return out


def _quoted(s: Candidate) -> str:
    return f"“{s.text}” [{s.n}]" + ("" if s.text[-1] in ".!?" else ".")
