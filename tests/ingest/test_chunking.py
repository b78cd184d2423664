"""Section-aware chunking measured with the real model tokenizer."""

from __future__ import annotations

import itertools

import pytest

from ingest.chunking import ChunkingError, chunk_pages, join_pages, split_sections
from ingest.embedding import SentenceTransformerEmbedder
from ingest.types import PAGE_SEPARATOR, Chunk, CleanPage
from tests.ingest.test_embedding import load_real_embedder

_WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
    "november oscar papa quebec romeo sierra tango uniform victor whiskey xray"
)
_TEAMS = ("finance", "legal", "support", "sales", "research", "design")
SENTENCES = [
    f"Sentence {word} explains how the {_TEAMS[n % 6]} team handled item number {n} this quarter."
    for n, word in enumerate(_WORDS.split(" "))
]
LONG_PARAGRAPH = " ".join(SENTENCES)  # about 400 tokens: must be split inside the paragraph


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return load_real_embedder()


def _pages(*texts: str) -> list[CleanPage]:
    return [
        CleanPage(page_no=i, method="text", raw_text=t, text=t, cleanup="skipped")
        for i, t in enumerate(texts, start=1)
    ]


def _chunk(embedder: SentenceTransformerEmbedder, pages: list[CleanPage]) -> list[Chunk]:
    return chunk_pages(pages, token_counter=embedder.count_tokens, max_tokens=200, overlap=30)


def _check_invariants(
    embedder: SentenceTransformerEmbedder, pages: list[CleanPage], chunks: list[Chunk]
) -> None:
    doc = join_pages(pages).text
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert doc[c.char_start : c.char_end] == c.text and c.text.strip() == c.text != ""
        path = " > ".join(c.section_path)
        prefix = c.embed_text[: -len(c.text)]
        assert c.embed_text.endswith(c.text)
        if embedder.count_tokens(path) - 2 > 64:  # a very long path is shortened, never dropped
            assert prefix.endswith("\n") and prefix[:-1] in path
        else:
            assert prefix == (path + "\n" if path else "")
        assert c.token_count == embedder.count_tokens(c.text) - 2 <= 200
        assert embedder.count_tokens(c.embed_text) <= embedder.max_tokens == 256
        assert not c.text.startswith("#")  # heading lines live in the path, never alone
    # No text is lost: every non-space character outside heading lines lies in some chunk.
    covered: set[int] = set()
    for c in chunks:
        covered.update(range(c.char_start, c.char_end))
    offset = 0
    for line in doc.split("\n"):
        if not line.startswith("#"):
            missing = [i for i in range(offset, offset + len(line)) if not doc[i].isspace()]
            assert covered.issuperset(missing), line
        offset += len(line) + 1


def test_section_paths_and_heading_only_sections(embedder: SentenceTransformerEmbedder) -> None:
    text = (
        "# Annual Report\n## 1 Introduction\nWe had a good year.\n## 2 Costs\n"
        "Costs fell.\n### 2.1 Staff\nStaff costs rose.\n# Appendix\nTables follow."
    )
    pages = _pages(text)
    chunks = _chunk(embedder, pages)
    _check_invariants(embedder, pages, chunks)
    assert [(c.section_path, c.text) for c in chunks] == [
        (("Annual Report", "1 Introduction"), "We had a good year."),
        (("Annual Report", "2 Costs"), "Costs fell."),
        (("Annual Report", "2 Costs", "2.1 Staff"), "Staff costs rose."),
        (("Appendix",), "Tables follow."),
    ]
    assert chunks[0].embed_text == "Annual Report > 1 Introduction\nWe had a good year."


def test_section_continues_across_pages(embedder: SentenceTransformerEmbedder) -> None:
    pages = _pages(
        "Preamble before any heading.\n# 3 Results\nThe first result holds.",
        "The second result holds too.",
        LONG_PARAGRAPH + "\n# 4 Discussion\nWe discuss.",
    )
    chunks = _chunk(embedder, pages)
    _check_invariants(embedder, pages, chunks)
    assert chunks[0].section_path == () and chunks[0].text == "Preamble before any heading."
    results = [c for c in chunks if c.section_path == ("3 Results",)]
    # Short paragraphs on pages 1 and 2 merge into one chunk that spans the page break.
    assert results[0].text.startswith("The first result") and "second result" in results[0].text
    assert (results[0].page_start, results[0].page_end) == (1, 2)
    assert {(c.page_start, c.page_end) for c in results[1:]} == {(3, 3)}
    assert chunks[-1].section_path == ("4 Discussion",) and chunks[-1].page_start == 3


def test_long_paragraph_splits_with_overlap(embedder: SentenceTransformerEmbedder) -> None:
    pages = _pages("## Work Log\n" + LONG_PARAGRAPH)
    chunks = _chunk(embedder, pages)
    _check_invariants(embedder, pages, chunks)
    assert len(chunks) >= 2 and all(c.section_path == ("Work Log",) for c in chunks)
    doc = join_pages(pages).text
    for before, after in itertools.pairwise(chunks):
        assert after.char_start < before.char_end  # the chunks share text ...
        shared = doc[after.char_start : before.char_end]
        assert 0 < embedder.count_tokens(shared) - 2 <= 30  # ... about `overlap` tokens of it
        assert after.text.startswith("Sentence")  # and cut at a sentence boundary


def test_hostile_text_never_exceeds_the_window(embedder: SentenceTransformerEmbedder) -> None:
    deep = "\n".join(f"{'#' * n} {'Very Long Heading Words ' * 12}Level {n}" for n in range(1, 7))
    pages = _pages(
        deep + "\n" + LONG_PARAGRAPH,
        "x" * 3000,  # one unbreakable "word" of word pieces
        "| " + " | ".join(str(n * 1.25) for n in range(600)) + " |",  # a table row of numbers
        "```\n# not a heading inside code\n```\nAfter the code.",
    )
    chunks = _chunk(embedder, pages)
    _check_invariants(embedder, pages, chunks)
    assert {c.page_start for c in chunks} == {1, 2, 3, 4}
    assert any("# not a heading" in c.text for c in chunks)
    assert all(embedder.count_tokens(c.embed_text.split("\n")[0]) - 2 <= 64 for c in chunks[:3])


def test_split_sections_offsets_and_join_pages() -> None:
    doc = join_pages(_pages("# A\nbody a", "## B\nbody b"))
    assert doc.text == "# A\nbody a" + PAGE_SEPARATOR + "## B\nbody b"
    assert [doc.page_at(i) for i in (0, 9, 11, 12, len(doc.text) - 1)] == [1, 1, 1, 2, 2]
    sections = split_sections(doc.text)
    assert [(s.path, doc.text[s.start : s.end].strip()) for s in sections] == [
        (("A",), "body a"),
        (("A", "B"), "body b"),
    ]


def test_empty_document_and_invalid_sizes(embedder: SentenceTransformerEmbedder) -> None:
    assert chunk_pages(_pages("", "  \n"), token_counter=embedder.count_tokens) == []
    with pytest.raises(ChunkingError):
        chunk_pages(_pages("text"), token_counter=embedder.count_tokens, max_tokens=50, overlap=50)


def test_a_text_of_headings_alone_is_still_chunked(embedder: SentenceTransformerEmbedder) -> None:
    # A one-page form whose every line is bold: heading recovery turns all of it into headings.
    text = "# Header\n## Foo: bar ABC: DEF"
    (chunk,) = _chunk(embedder, _pages(text))
    assert (chunk.text, chunk.section_path, chunk.page_start) == (text, (), 1)
