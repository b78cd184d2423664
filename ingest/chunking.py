"""Section-aware chunking, sized in the embedder's own tokens.

The cleaned pages (Markdown, headings recovered) are joined into one document text with
`PAGE_SEPARATOR`, so a section that starts on page 3 and ends on page 5 stays one section.
The text is cut at Markdown headings first (our own walk over the lines, which keeps exact
character offsets), then each section body is split recursively by langchain's
`RecursiveCharacterTextSplitter` (paragraphs, lines, sentences, words) with lengths measured by
the embedder's tokenizer. Each chunk is an exact slice of the document text, and its
`embed_text` ("Section > Path" line + text) is guaranteed to fit the model window: nothing is
ever silently truncated by the embedder.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.errors import IngestError
from ingest.types import PAGE_SEPARATOR, Chunk

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^(```|~~~)")
_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]
_PATH_JOIN = " > "


class ChunkingError(IngestError):
    """The document cannot be chunked within the token bounds (bad arguments or a bug)."""

    code = "chunking_failed"
    http_status = 500


class PageLike(Protocol):
    """What chunking needs of a page: its 1-based number and its Markdown text (a `CleanPage`)."""

    @property
    def page_no(self) -> int: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class JoinedDocument:
    """The document text all chunk offsets refer to, and each page's `[start, end)` in it."""

    text: str
    page_nos: tuple[int, ...]
    page_starts: tuple[int, ...]

    def page_at(self, offset: int) -> int:
        """The number of the page holding character `offset` (separators go to the page before)."""
        return self.page_nos[max(0, bisect_right(self.page_starts, offset) - 1)]


@dataclass(frozen=True)
class Section:
    """A heading path and the `[start, end)` span of its body (the heading line excluded)."""

    path: tuple[str, ...]
    start: int
    end: int


def join_pages(pages: Sequence[PageLike]) -> JoinedDocument:
    """Join page texts with `PAGE_SEPARATOR`, recording where each page starts."""
    starts: list[int] = []
    position = 0
    for page in pages:
        starts.append(position)
        position += len(page.text) + len(PAGE_SEPARATOR)
    text = PAGE_SEPARATOR.join(page.text for page in pages)
    return JoinedDocument(text, tuple(p.page_no for p in pages), tuple(starts))


def split_sections(text: str) -> list[Section]:
    """Cut Markdown text at heading lines (outside code fences) into sections with heading paths.

    A heading closes every open section of the same or a deeper level. Sections whose body is
    blank are dropped: their heading lives on in the path of the sections below it.
    """
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    body_start, in_fence, offset = 0, False, 0
    for line in text.split("\n"):
        match = None if in_fence else _HEADING.match(line)
        if _FENCE.match(line):
            in_fence = not in_fence
        if match:
            sections.append(Section(tuple(t for _, t in stack), body_start, offset))
            level = len(match[1])
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, match[2].strip()))
            body_start = offset + len(line) + 1
        offset += len(line) + 1
    sections.append(Section(tuple(t for _, t in stack), min(body_start, len(text)), len(text)))
    return [s for s in sections if text[s.start : s.end].strip()]


def chunk_pages(
    pages: Sequence[PageLike],
    *,
    token_counter: Callable[[str], int],
    max_tokens: int = 200,
    overlap: int = 30,
    window: int = 256,
) -> list[Chunk]:
    """Split cleaned Markdown pages into section-aware chunks for embedding.

    `token_counter` is the embedder's `count_tokens` (it counts the model's special tokens, so
    `token_counter("")` is their overhead); `window` is the embedder's `max_tokens`. Each chunk's
    text holds at most `max_tokens` content tokens, consecutive chunks of a section share about
    `overlap` tokens, and `embed_text` counts at most `window` tokens. Offsets index into
    `join_pages(pages).text`, and `text == doc_text[char_start:char_end]`. Text made only of
    headings is chunked as it stands, without a section path.
    """
    if max_tokens < 8 or overlap < 0 or overlap >= max_tokens:
        raise ChunkingError(
            "invalid chunk size", max_tokens=max_tokens, overlap=overlap, window=window
        )
    special = token_counter("")

    @lru_cache(maxsize=65536)
    def content_tokens(text: str) -> int:
        return token_counter(text) - special

    doc = join_pages(pages)
    chunks: list[Chunk] = []
    # A text of headings alone (a form whose every line is bold) has no section bodies: its
    # headings are then the text, so that the document is still found.
    whole = [Section((), 0, len(doc.text))] if doc.text.strip() else []
    for section in split_sections(doc.text) or whole:
        prefix = _prefix(section.path, content_tokens, limit=max(8, window // 4))
        budget = min(max_tokens, window - special - content_tokens(prefix + "\n"))
        if budget < 8:
            raise ChunkingError("model window too small for chunking", window=window)

        def fits(text: str, prefix: str = prefix) -> bool:
            embed = f"{prefix}\n{text}" if prefix else text
            return content_tokens(text) <= max_tokens and token_counter(embed) <= window

        spans = _split_span(
            doc.text, section.start, section.end, budget, overlap, fits, content_tokens
        )
        for start, end in spans:
            text = doc.text[start:end]
            chunks.append(
                Chunk(
                    ordinal=len(chunks),
                    text=text,
                    embed_text=f"{prefix}\n{text}" if prefix else text,
                    section_path=section.path,
                    page_start=doc.page_at(start),
                    page_end=doc.page_at(end - 1),
                    char_start=start,
                    char_end=end,
                    token_count=content_tokens(text),
                )
            )
    return chunks


def _prefix(path: tuple[str, ...], count: Callable[[str], int], *, limit: int) -> str:
    """The heading path line, shortened from the top (then by words) to at most `limit` tokens."""
    parts = list(path)
    while len(parts) > 1 and count(_PATH_JOIN.join(parts)) > limit:
        parts.pop(0)
    line = _PATH_JOIN.join(parts)
    while line and count(line) > limit:
        line = line.rsplit(" ", 1)[0] if " " in line else line[: len(line) // 2]
    return line


def _split_span(
    doc: str,
    start: int,
    end: int,
    budget: int,
    overlap: int,
    fits: Callable[[str], bool],
    count: Callable[[str], int],
) -> list[tuple[int, int]]:
    """Split `doc[start:end]` into `(start, end)` spans of at most `budget` tokens that `fits`.

    Token counts of joined pieces are not exactly additive, so any piece that still does not
    fit is split again with a smaller budget; the last separator ("") guarantees progress.
    """
    splitter = RecursiveCharacterTextSplitter(
        separators=_SEPARATORS,
        keep_separator="end",
        chunk_size=budget,
        chunk_overlap=min(overlap, budget // 4),
        length_function=count,
        strip_whitespace=True,
    )
    body = doc[start:end]
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in splitter.split_text(body):
        position = body.find(piece, cursor)
        if position < 0:
            raise ChunkingError("chunk text not found in its section", piece=piece[:80])
        cursor = position + 1
        piece_start = start + position
        if fits(piece):
            spans.append((piece_start, piece_start + len(piece)))
        elif budget > 1:
            smaller = max(1, budget * 3 // 4)
            spans.extend(
                _split_span(doc, piece_start, piece_start + len(piece), smaller, 0, fits, count)
            )
        else:
            raise ChunkingError("a single character exceeds the token window", piece=piece)
    return spans
