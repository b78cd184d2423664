"""The composed ingest stages (`run_ingest`): progress, stage order, OCR, cleanup, cancellation.

Most tests use the deterministic `HashEmbedder`; one runs the real MiniLM model end to end on
the digital sample. OCR runs real Tesseract on a small rendered image, to stay fast.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from ingest.embedding import SentenceTransformerEmbedder
from ingest.errors import NoReadableText
from ingest.pipeline import IngestContext, IngestResult, Stage, run_ingest
from ingest.sniff import sniff
from ingest.types import Limits
from tests.ingest.test_embedding import load_real_embedder
from tests.support.fake_embedder import HashEmbedder

SAMPLES = Path(__file__).parents[2] / "samples"
Event = tuple[Stage, int, int | None]


class RecordingCleaner:
    """A `TextCleaner` that fixes one OCR slip and records what it was asked."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def clean(self, text: str) -> str:
        self.seen.append(text)
        return text.replace("Outlok", "Outlook")


class Cancelled(Exception):
    pass


def _run(name: str, cleaner: RecordingCleaner | None = None) -> tuple[list[Event], IngestResult]:
    data = (SAMPLES / name).read_bytes()
    events: list[Event] = []
    ctx = IngestContext(
        embedder=HashEmbedder(),
        cleaner=cleaner,
        on_progress=lambda stage, done, total: events.append((stage, done, total)),
    )
    return events, run_ingest(data, sniff(data, name, Limits()), ctx)


def _png(lines: list[str]) -> bytes:
    font = ImageFont.load_default(size=36)
    image = Image.new("L", (900, 70 * len(lines) + 60), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((40, 30 + 70 * i), line, font=font, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(300, 300))
    return buffer.getvalue()


def _stages(events: list[Event]) -> list[Stage]:
    return [stage for i, (stage, _, _) in enumerate(events) if i == 0 or events[i - 1][0] != stage]


def test_markdown_note_runs_every_stage_in_order() -> None:
    events, result = _run("note.md")
    assert _stages(events) == ["reading", "cleanup", "chunking", "embedding"]
    assert result.pages[0].method == "text" and len(result.pages) == 1
    paths = [c.section_path for c in result.chunks]
    assert ("Team offsite notes", "Action items", "Open questions") in paths
    assert len(result.embeddings) == len(result.chunks) and len(result.embeddings[0]) == 384
    assert set(result.timings) == {"reading", "ocr", "cleanup", "chunking", "embedding"}
    assert result.timings["ocr"] == 0.0


def test_digital_pdf_reports_pages_and_never_calls_the_cleaner() -> None:
    cleaner = RecordingCleaner()
    events, result = _run("digital-report.pdf", cleaner=cleaner)
    assert ("reading", 3, 3) in events and "ocr" not in _stages(events)
    assert [p.method for p in result.pages] == ["text"] * 3
    assert cleaner.seen == []  # text-layer pages are never sent to the LLM
    pages = {c.page_start for c in result.chunks}
    assert pages == {1, 2, 3}
    assert any("2 Results" in c.section_path for c in result.chunks)


def test_image_goes_through_ocr_and_the_guarded_cleaner() -> None:
    data = _png(["3 Outlok", "Revenue should reach 52 million", "in the coming year."])
    events: list[Event] = []
    cleaner = RecordingCleaner()
    ctx = IngestContext(
        embedder=HashEmbedder(), cleaner=cleaner, on_progress=lambda *e: events.append(e)
    )
    result = run_ingest(data, sniff(data, "scan.png", Limits()), ctx)
    assert _stages(events)[:2] == ["reading", "ocr"] and ("ocr", 1, 1) in events
    page = result.pages[0]
    assert page.method == "ocr" and page.ocr_confidence is not None and page.ocr_confidence > 50
    assert len(cleaner.seen) == 1 and "52 million" in cleaner.seen[0]
    assert "Outlok" in page.raw_text and "Outlook" in page.text and page.cleanup == "applied"
    assert result.timings["ocr"] > 0 and result.ocr_pages == 1


def test_blank_image_has_no_readable_text() -> None:
    buffer = io.BytesIO()
    Image.new("L", (400, 300), 255).save(buffer, format="PNG")
    data = buffer.getvalue()
    with pytest.raises(NoReadableText):
        run_ingest(data, sniff(data, "blank.png", Limits()), IngestContext(HashEmbedder()))


def test_progress_callback_cancels_before_embedding() -> None:
    embedder = HashEmbedder()

    def cancel_at_embedding(stage: Stage, done: int, total: int | None) -> None:
        if stage == "embedding":
            raise Cancelled

    data = (SAMPLES / "note.md").read_bytes()
    ctx = IngestContext(embedder=embedder, on_progress=cancel_at_embedding)
    with pytest.raises(Cancelled):
        run_ingest(data, sniff(data, "note.md", Limits()), ctx)
    assert embedder.calls == []


def test_embedding_is_batched() -> None:
    embedder = HashEmbedder()
    data = (SAMPLES / "digital-report.pdf").read_bytes()
    result = run_ingest(
        data, sniff(data, "r.pdf", Limits()), IngestContext(embedder=embedder, embed_batch=3)
    )
    assert [len(batch) for batch in embedder.calls] == [
        min(3, len(result.chunks) - start) for start in range(0, len(result.chunks), 3)
    ]
    assert embedder.calls[0][0] == result.chunks[0].embed_text  # heading-prefixed text


def test_embedding_progress_counts_pages_whose_chunks_are_embedded() -> None:
    events: list[Event] = []
    data = (SAMPLES / "digital-report.pdf").read_bytes()
    ctx = IngestContext(embedder=HashEmbedder(), embed_batch=1,
                        on_progress=lambda stage, done, total: events.append((stage, done, total)))
    result = run_ingest(data, sniff(data, "r.pdf", Limits()), ctx)
    total = len(result.pages)
    done = [d for stage, d, _ in events if stage == "embedding"]
    assert total > 1 and done[0] == 0 and done[-1] == total
    assert done == sorted(done)  # it only moves forward
    assert len(set(done)) == total + 1  # every page count from 0 to the total is reported


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return load_real_embedder()  # one model per test process, shared with the embedding tests


def test_real_embedder_on_the_digital_report(minilm: SentenceTransformerEmbedder) -> None:
    data = (SAMPLES / "digital-report.pdf").read_bytes()
    result = run_ingest(data, sniff(data, "r.pdf", Limits()), IngestContext(embedder=minilm))
    assert all(minilm.count_tokens(c.embed_text) <= minilm.max_tokens for c in result.chunks)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in result.embeddings)
    query = minilm.embed(["How much did total revenue grow in 2024?"])[0]
    scores = [sum(a * b for a, b in zip(query, v, strict=True)) for v in result.embeddings]
    best = result.chunks[scores.index(max(scores))]
    assert "48.2 million" in best.text and best.page_start == 2
