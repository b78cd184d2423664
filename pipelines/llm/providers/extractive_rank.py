"""The extractive answerer's choice: which sentences answer the question, and whether any does.

Why this way: a sentence is judged on its own relevance to the question, not its passage's.
Relevance is the share of the question's terms a sentence holds, each term weighted by how
rare it is among the passages' sentences (an idf, so "2019" or "CEO" weigh more than
"revenue"), terms in the passage's file name, section or last heading counting part; the
sentence must also hold what the question asks for (a number for "how much", a date for
"when", a name for "who"). Given a `SentenceEmbedder`, the cosine of question and sentence is
blended into the order (not into answerability). The best sentence comes first; others follow,
by source number, only while their relevance stays close to the best's (with and without the
context: a section title shared by a merged passage does not carry its other sentences), each
unlike the ones already chosen. The question is *answerable* when the best sentence is strong
and no key term of the question (a number, a name, an acronym) is missing from every passage;
otherwise the caller says the sources do not say, quoting the closest sentences.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pipelines.llm.providers.extractive_text import Kind, fingerprint, pieces, terms, words

CONTEXT_WEIGHT = 0.7  # a question term in the passage's file name, section or heading
TYPE_MISMATCH = 0.6  # the sentence lacks what the question asks for
MIN_RELEVANCE = 0.6  # the best sentence must reach this for the question to be answerable
KEEP_RATIO = 0.8  # a further sentence must reach this share of the best's score
DENSE_WEIGHT = 0.35  # the embedder's share of relevance, when there is one
DENSE_FLOOR, DENSE_FULL = 0.2, 0.7  # cosine mapped linearly onto 0..1 between these
DENSE_RELATED = 0.45  # a cosine that makes a sentence one of the closest when none answers
NEAR_DUPLICATE = 0.8  # shared terms over the smaller sentence's terms
MAX_EMBEDDED = 96

Wants = Literal["amount", "count", "time", "name", "any"]
_MEASURES = frozenset(terms("""revenue revenues profit profits cost costs margin total price
amount spending spend sales income growth rate percentage number count budget salary tax cash
debt turnover earnings loss value size population figure share dividend capital fee fees
wage wages balance sum expense expenses"""))
_PRICE_WORDS = frozenset(terms("cost costs price prices amount paid pay charge charged fee spent"))
"""What a bare number answers to a "how much" question: a line's price is what it cost."""
_NUMBER_WORDS = frozenset(re.findall(r"\w+", """one two three four five six seven eight nine
ten eleven twelve twenty thirty forty fifty hundred thousand million billion dozen half"""))
_STARTERS = frozenset(re.findall(r"\w+", """the a an this that these those it its in on at for
our we they he she there here as by of to and but or if when after before during while with"""))
_TIME = re.compile(r"(?i)\b(?:(?:19|20)\d{2}|\d{1,2}:\d{2}|january|february|march|april|may|"
                   r"june|july|august|september|october|november|december|monday|tuesday|"
                   r"wednesday|thursday|friday|saturday|sunday|today|tomorrow|yesterday|"
                   r"daily|weekly|monthly|quarterly|annually|spring|summer|autumn|winter)\b")


class SentenceEmbedder(Protocol):
    """Anything that embeds texts as unit vectors (lectern's `Embedder` is one).

    Contract: CPU-bound and thread-safe; one vector per text, in order, of unit length, so a
    dot product is a cosine. The answerer calls it from a worker thread."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class Asked:
    """The question as the answerer reads it: its terms, key terms (stem → as written),
    its own numbers, and the kind of thing it asks for."""

    text: str
    terms: tuple[str, ...]
    key: dict[str, str]
    numbers: frozenset[str]
    wants: Wants


@dataclass(frozen=True)
class Candidate:
    """A quotable sentence or line: passage number `n`, the passage's place in the request
    (`rank`), its place in the passage, its terms and the terms of its context."""

    n: int
    rank: int
    position: int
    text: str
    kind: Kind
    terms: frozenset[str]
    context: frozenset[str]


@dataclass(frozen=True)
class Choice:
    """What to say: the chosen sentences (answerable) or the closest ones (not), and the key
    terms, as written in the question, that no passage mentions."""

    answerable: bool
    sentences: tuple[Candidate, ...]
    missing: tuple[str, ...] = ()


def analyse(question: str) -> Asked:
    """Terms, key terms and the wanted kind of answer of `question`."""
    distinct = tuple(dict.fromkeys(t for t in terms(question) if not _asks_how(question, t)))
    key: dict[str, str] = {}
    tokens = re.findall(r"[\w'’.,:-]*\w", question)
    for i, token in enumerate(tokens):
        stems = terms(token)
        if not stems:
            continue
        if any(c.isdigit() for c in token) or (token.isupper() and len(token) > 1) or (
                i > 0 and token[0].isupper()):
            key.setdefault(stems[0], token)
    numbers = frozenset(w for w in words(question) if w[0].isdigit())
    return Asked(question, distinct, key, numbers, _wants(question, distinct))


def _asks_how(question: str, term: str) -> bool:
    """The word after "how" is part of the question word ("how long", "how much")."""
    return bool(re.search(rf"(?i)\bhow\s+{re.escape(term)}\w*\b", question))


def _wants(question: str, distinct: Sequence[str]) -> Wants:
    q = question.lower().strip()
    if re.match(r"(?:when|what (?:date|time|day|year|month))\b", q):
        return "time"
    if re.match(r"how much\b", q) or (re.match(r"(?:what|which)\b", q)
                                       and _MEASURES & set(distinct)):
        return "amount"
    if re.match(r"how (?:many|long|often|far|old|big|large|high|tall)\b", q):
        return "count"
    if re.match(r"who(?:m|se)?\b", q):
        return "name"
    return "any"


def gather(passages: Sequence[tuple[int, str]], headers: dict[int, str]) -> list[Candidate]:
    """Every quotable piece of the passages (given best first as `(n, text)`), each text once:
    a sentence already seen in a better passage (same words, any spacing) is skipped."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for rank, (n, text) in enumerate(passages):
        header = frozenset(terms(headers.get(n, "")))
        heading: frozenset[str] = frozenset()
        for position, piece in enumerate(pieces(text)):
            if piece.kind == "heading":
                heading = frozenset(terms(piece.text))
                continue
            key = fingerprint(piece.text)
            if key in seen:
                continue
            seen.add(key)
            out.append(Candidate(n, rank, position, piece.text, piece.kind,
                                 frozenset(terms(piece.text)), header | heading))
    return out


def choose(asked: Asked, candidates: Sequence[Candidate], *, max_sentences: int,
           cosines: Sequence[float] | None = None, min_relevance: float = MIN_RELEVANCE,
           keep_ratio: float = KEEP_RATIO) -> Choice:
    """The answer's sentences (best first, then by source number and position), or the
    closest two when the question is not answerable; an empty `Choice` when nothing relates.

    Answerability is lexical (terms, key terms, the kind of answer): the embedder's cosines
    only order the sentences, because on MiniLM an on-topic sentence that does not answer
    scores as high as one that does (bench/answers.py)."""
    if not asked.terms or not candidates:
        return Choice(False, ())
    mentioned = set().union(*(c.terms | c.context for c in candidates))
    missing = tuple(w for s, w in asked.key.items() if s not in mentioned)
    idf = _idf(asked.terms, candidates)
    fits = [_fits(asked, c) for c in candidates]
    lexical = [_coverage(asked, c, idf, priced=f == 1.0 and asked.wants == "amount") * f
               for c, f in zip(candidates, fits, strict=True)]
    own = [_coverage(asked, c, idf, context=0.0) for c in candidates]
    near = [cosines is not None and cosines[i] >= DENSE_RELATED for i in range(len(own))]
    if max(lexical) <= 0 and not any(near):
        return Choice(False, ())  # nothing relates: no closest sentences, no missing terms
    score = _scores(lexical, candidates, cosines)
    order = sorted(range(len(candidates)), key=lambda i: (-score[i], i))
    eligible = [i for i in order if lexical[i] >= min_relevance]
    if missing or not eligible:
        closest = [candidates[i] for i in order if own[i] > 0 or near[i]] or [
            candidates[i] for i in order if lexical[i] > 0]
        return Choice(False, tuple(_distinct(closest, 2)), missing)
    best = eligible[0]
    kept = [i for i in eligible if score[i] >= keep_ratio * score[best]
            and own[i] >= keep_ratio * own[best]
            and (candidates[i].kind != "row" or candidates[best].kind == "row" or i == best)]
    chosen = _distinct([candidates[i] for i in kept], max_sentences)
    rest = sorted(chosen[1:], key=lambda c: (c.n, c.position))
    return Choice(True, (chosen[0], *rest))


def _scores(lexical: Sequence[float], candidates: Sequence[Candidate],
            cosines: Sequence[float] | None) -> list[float]:
    """The ranking score: relevance (lexical, blended with the cosine when there is one),
    mildly penalised for length and for a lower-ranked passage."""
    relevance = list(lexical) if cosines is None else [
        (1 - DENSE_WEIGHT) * x + DENSE_WEIGHT * _dense(cos)
        for x, cos in zip(lexical, cosines, strict=True)]
    average = sum(len(c.terms) for c in candidates) / len(candidates) or 1.0
    return [r * _length_factor(len(c.terms), average) * _rank_prior(c.rank)
            for r, c in zip(relevance, candidates, strict=True)]


def _idf(wanted: Sequence[str], candidates: Sequence[Candidate]) -> dict[str, float]:
    """BM25's idf of each question term, the sentences (and each passage's context, once) as
    the documents; a term no passage has gets the highest weight."""
    contexts = {c.rank: c.context for c in candidates}
    count = len(candidates) + len(contexts)
    df: Counter[str] = Counter()
    for c in candidates:
        df.update(t for t in wanted if t in c.terms)
    for context in contexts.values():
        df.update(t for t in wanted if t in context)
    return {t: math.log(1 + (count - df[t] + 0.5) / (df[t] + 0.5)) for t in wanted}


def _coverage(asked: Asked, c: Candidate, idf: dict[str, float],
              context: float = CONTEXT_WEIGHT, priced: bool = False) -> float:
    """The idf-weighted share of the question's terms the sentence holds, a term only in its
    context (file name, section, heading) counting `context`; with `priced` (a "how much"
    question, a sentence with a number), a price word ("cost", "paid") counts `context` too."""
    total = sum(idf.values())
    held = sum(idf[t] * (1.0 if t in c.terms else context if t in c.context or (
        priced and t in _PRICE_WORDS) else 0.0) for t in asked.terms)
    return held / total if total else 0.0


def _fits(asked: Asked, c: Candidate) -> float:
    """1 when the sentence holds the kind of thing asked for, else `TYPE_MISMATCH`."""
    own = set(words(c.text))
    if asked.wants in ("amount", "count"):
        ok = any(w[0].isdigit() and w not in asked.numbers for w in own) or (
            asked.wants == "count" and bool(own & _NUMBER_WORDS))
    elif asked.wants == "time":
        found = {m.group(0).lower() for m in _TIME.finditer(c.text)}
        ok = bool(found - asked.numbers - set(words(asked.text)))
    elif asked.wants == "name":
        asked_terms = set(asked.terms)
        names = [t for t in re.findall(r"[A-Za-z][\w'-]+", c.text)
                 if t[0].isupper() and t.lower() not in _STARTERS]
        ok = any(terms(t) and terms(t)[0] not in asked_terms for t in names)
    else:
        ok = True
    return 1.0 if ok else TYPE_MISMATCH


def _dense(cosine: float) -> float:
    return min(1.0, max(0.0, (cosine - DENSE_FLOOR) / (DENSE_FULL - DENSE_FLOOR)))


def _length_factor(length: int, average: float) -> float:
    """A mild penalty for sentences much longer than the others (they hold more by chance)."""
    return 1 / (1 + 0.15 * max(0.0, length / average - 1))


def _rank_prior(rank: int) -> float:
    """A slight preference for the passages search ranked higher (ties go to them)."""
    return max(0.85, 1 - 0.02 * rank)


def _distinct(ranked: Sequence[Candidate], limit: int) -> list[Candidate]:
    """The first `limit` candidates, skipping any whose terms are mostly another's."""
    out: list[Candidate] = []
    for c in ranked:
        if len(out) >= limit:
            break
        if not any(_overlap(c.terms, o.terms) >= NEAR_DUPLICATE for o in out):
            out.append(c)
    return out


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    smaller = min(len(a), len(b))
    return len(a & b) / smaller if smaller >= 3 else float(a == b)


def embed_candidates(embedder: SentenceEmbedder, question: str,
                     candidates: Sequence[Candidate]) -> list[float]:
    """Cosine of the question with each candidate; past `MAX_EMBEDDED` (in the passages'
    order) a candidate gets `DENSE_FLOOR`, which adds nothing to its relevance."""
    head = candidates[:MAX_EMBEDDED]
    vectors = embedder.embed([question, *(c.text for c in head)])
    q = vectors[0]
    cosines = [sum(a * b for a, b in zip(q, v, strict=True)) for v in vectors[1:]]
    return cosines + [DENSE_FLOOR] * (len(candidates) - len(head))
