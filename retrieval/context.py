"""Context assembly: turn ranked hits into numbered sources that fit a model's token budget.

1. **Merge.** Hits of the same document whose chunks are neighbours (consecutive ordinals) or
   overlap (character ranges) become one source: chunk ids collected, page range widened, text
   joined once — the chunker's overlap is cut using the chunks' character offsets into the
   document text (`text == document[char_start:char_end]`), falling back to matching the longest
   suffix/prefix when a chunk's text is not an exact slice.
2. **Number.** Sources are ordered by their best hit's rank and numbered `[1]`, `[2]`, ...;
   each keeps the document id, file name, page range and section a citation points to.
3. **Fit.** Sources are added best first while the rendered context stays within
   `budget_tokens` (counted with the caller's tokenizer, on the whole text, so the count is
   exact); the lowest-ranked are dropped first. Nothing is cut silently: only when the best
   source alone is over budget is it truncated — at a sentence boundary where possible — and
   marked with `TRUNCATION_MARKER` and `Source.truncated`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from retrieval.errors import InvalidBudget
from retrieval.types import Context, Hit, Source

TRUNCATION_MARKER = " […truncated]"
SEPARATOR = "\n\n"
_SENTENCE_END = re.compile(r"([.!?…][\"')\]]*)\s+")


@dataclass
class _Run:
    """Neighbouring hits of one document, in reading order, and their best rank position."""

    hits: list[Hit] = field(default_factory=list)
    best: int = 0


def assemble_context(
    hits: Sequence[Hit], *, budget_tokens: int, count_tokens: Callable[[str], int]
) -> Context:
    """Numbered, merged sources from `hits` (best first) that fit `budget_tokens` when rendered."""
    if budget_tokens <= 0:
        raise InvalidBudget("budget_tokens must be positive", budget_tokens=budget_tokens)
    sources = [_source(n, run) for n, run in enumerate(merge_runs(hits), start=1)]
    kept: list[Source] = []
    text = ""
    for source in sources:
        candidate = SEPARATOR.join([text, render(source)]) if text else render(source)
        if count_tokens(candidate) > budget_tokens:
            break
        kept.append(source)
        text = candidate
    if sources and not kept:
        kept = [_truncate(sources[0], budget_tokens, count_tokens)]
        text = render(kept[0])
    return Context(
        sources=tuple(kept),
        text=text,
        token_count=count_tokens(text) if text else 0,
        dropped=len(sources) - len(kept),
    )


def merge_runs(hits: Sequence[Hit]) -> list[tuple[Hit, ...]]:
    """Group hits into runs of neighbouring or overlapping chunks per document, best run first."""
    by_document: dict[object, list[tuple[int, Hit]]] = {}
    seen: set[int] = set()
    for position, hit in enumerate(hits):
        if hit.chunk_id not in seen:
            seen.add(hit.chunk_id)
            by_document.setdefault(hit.document_id, []).append((position, hit))
    runs: list[_Run] = []
    for entries in by_document.values():
        entries.sort(key=lambda e: (e[1].ordinal, e[1].char_start))
        current: _Run | None = None
        for position, hit in entries:
            if current is not None and _touches(current.hits[-1], hit):
                current.hits.append(hit)
                current.best = min(current.best, position)
            else:
                current = _Run([hit], position)
                runs.append(current)
    runs.sort(key=lambda r: r.best)
    return [tuple(r.hits) for r in runs]


def _touches(previous: Hit, hit: Hit) -> bool:
    return hit.ordinal == previous.ordinal + 1 or hit.char_start < previous.char_end


def merge_text(run: Sequence[Hit]) -> str:
    """The text of a run of chunks in reading order, each overlapping stretch included once."""
    text, end = run[0].text, run[0].char_end
    for hit in run[1:]:
        if hit.char_end <= end:
            continue  # wholly inside what we already have
        if hit.char_start < end:
            exact = len(hit.text) == hit.char_end - hit.char_start
            overlap = end - hit.char_start if exact else _suffix_prefix(text, hit.text)
            text += hit.text[overlap:]
        else:
            text += " " if hit.char_start - end == 1 else SEPARATOR
            text += hit.text
        end = hit.char_end
    return text


def _suffix_prefix(left: str, right: str) -> int:
    """Length of the longest suffix of `left` that is a prefix of `right`."""
    for size in range(min(len(left), len(right)), 0, -1):
        if left.endswith(right[:size]):
            return size
    return 0


def _source(n: int, run: Sequence[Hit]) -> Source:
    sections = list(dict.fromkeys(h.section for h in run if h.section))
    return Source(
        n=n,
        document_id=run[0].document_id,
        filename=run[0].filename,
        page_start=min(h.page_start for h in run),
        page_end=max(h.page_end for h in run),
        section="; ".join(sections),
        score=max(h.score for h in run),
        text=merge_text(run),
        chunk_ids=tuple(h.chunk_id for h in run),
    )


def render(source: Source) -> str:
    """How a source appears in the model's context: a citation header, then its text."""
    pages = (
        f"p. {source.page_start}"
        if source.page_start == source.page_end
        else f"pp. {source.page_start}–{source.page_end}"
    )
    section = f" — {source.section}" if source.section else ""
    return f"[{source.n}] {source.filename}, {pages}{section}\n{source.text}"


def _truncate(source: Source, budget: int, count_tokens: Callable[[str], int]) -> Source:
    """The longest sentence-aligned (else word-aligned) prefix of `source` that fits, marked."""
    cuts = [m.end(1) for m in _SENTENCE_END.finditer(source.text)]
    if not cuts:
        cuts = [m.start() for m in re.finditer(r"\s+", source.text)]
    fitting: Source | None = None
    low, high = 0, len(cuts) - 1
    while low <= high:  # binary search: token counts grow with the prefix
        middle = (low + high) // 2
        candidate = _with_text(source, source.text[: cuts[middle]].rstrip() + TRUNCATION_MARKER)
        if count_tokens(render(candidate)) <= budget:
            fitting, low = candidate, middle + 1
        else:
            high = middle - 1
    if fitting is None:
        raise InvalidBudget(
            "budget_tokens is too small for even the start of the best source",
            budget_tokens=budget,
            needed=count_tokens(render(_with_text(source, TRUNCATION_MARKER.strip()))),
        )
    return fitting


def _with_text(source: Source, text: str) -> Source:
    return replace(source, text=text, truncated=True)

