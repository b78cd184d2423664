"""Reusing vectors in the embedding stage: known chunks never reach the embedder, progress
still ends at the last page, and the hash that finds a vector covers exactly the embedded text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bench.versions import handbook, section_heading
from ingest.pipeline import IngestContext, IngestResult, Stage, embed_stage, run_ingest
from ingest.sniff import sniff
from ingest.types import Chunk, Limits
from ingest.versions import content_hash
from tests.support.fake_embedder import HashEmbedder


class CountingEmbedder(HashEmbedder):
    """A `HashEmbedder` that records every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return super().embed(texts)


def _ingest(data: bytes, embedder: HashEmbedder, known: dict[str, list[float]] | None = None,
            events: list[tuple[Stage, int, int | None]] | None = None) -> IngestResult:
    ctx = IngestContext(embedder=embedder, embed_batch=4,
                        on_progress=lambda *e: None if events is None else events.append(e))
    lookup = {} if known is None else known
    return run_ingest(data, sniff(data, "handbook.pdf", Limits()), ctx,
                      lambda chunk: lookup.get(content_hash(chunk)))


def _known(result: IngestResult) -> dict[str, list[float]]:
    return {content_hash(c): v for c, v in zip(result.chunks, result.embeddings, strict=True)}


def test_only_the_changed_sections_chunks_are_embedded() -> None:
    first = _ingest(handbook(sections=5), HashEmbedder())
    embedder, events = CountingEmbedder(), list[tuple[Stage, int, int | None]]()
    second = _ingest(handbook({3: 1}, sections=5), embedder, _known(first), events)
    changed = [c for c in second.chunks if c.section_path[:1] == (section_heading(3),)]
    assert len(changed) >= 2
    assert embedder.texts == [c.embed_text for c in changed]
    assert (second.chunks_embedded, second.chunks_reused) == (len(changed),
                                                              len(second.chunks) - len(changed))
    assert second.embeddings == HashEmbedder().embed([c.embed_text for c in second.chunks])
    embedding = [e for e in events if e[0] == "embedding"]
    assert embedding[-1] == ("embedding", 5, 5)
    assert all(done <= 5 for _, done, _ in embedding)


def test_a_version_with_nothing_new_embeds_nothing_and_still_reports_the_end() -> None:
    first = _ingest(handbook(sections=3), HashEmbedder())
    embedder, events = CountingEmbedder(), list[tuple[Stage, int, int | None]]()
    again = _ingest(handbook(sections=3), embedder, _known(first), events)
    assert embedder.texts == []
    assert (again.chunks_reused, again.chunks_embedded) == (len(first.chunks), 0)
    assert again.embeddings == first.embeddings
    assert [e for e in events if e[0] == "embedding"] == [("embedding", 3, 3)]


def test_repeated_texts_are_embedded_once_and_the_hash_covers_the_section_path() -> None:
    chunk = Chunk(ordinal=0, text="Same words.", embed_text="A\nSame words.", section_path=("A",),
                  page_start=1, page_end=1, char_start=0, char_end=11, token_count=4)
    other = replace(chunk, ordinal=1, embed_text="B\nSame words.", section_path=("B",))
    twin = replace(chunk, ordinal=2)
    assert content_hash(chunk) == content_hash(twin) != content_hash(other)
    embedder = CountingEmbedder()
    vectors, reused = embed_stage([chunk, other, twin], 1, IngestContext(embedder=embedder))
    assert embedder.texts == ["A\nSame words.", "B\nSame words."] and reused == 0
    assert vectors[0] == vectors[2] != vectors[1]
