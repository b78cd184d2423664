"""What ingesting one document took and found: its processing log.

Written with the document when its job succeeds (`documents.processing_log`, shown by
`GET /v1/documents/{id}`), and handed to the ingestion observer, which turns it into the
ingestion metrics. Stage seconds are wall time: "reading" (parsing and text layer), "ocr",
"cleanup", "chunking", "embedding" and "storing" (writing the rows, before the commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.pipeline import IngestResult


@dataclass(frozen=True)
class ProcessingLog:
    """Seconds per stage; pages read from the text layer, by OCR, and failed; the mean OCR
    confidence (0–100) of the pages OCR read (None without any); characters removed to make
    the text storable; running header/footer lines dropped; page warnings; chunks."""

    stage_seconds: dict[str, float]
    pages_text: int
    pages_ocr: int
    pages_failed: int
    ocr_mean_confidence: float | None
    chars_removed: int
    running_lines_dropped: int
    warnings: int
    chunks: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored with the document."""
        return {
            "stage_seconds": {stage: round(s, 3) for stage, s in self.stage_seconds.items()},
            "pages": {"text": self.pages_text, "ocr": self.pages_ocr,
                      "failed": self.pages_failed},
            "ocr_mean_confidence": self.ocr_mean_confidence,
            "chars_removed": self.chars_removed,
            "running_lines_dropped": self.running_lines_dropped,
            "warnings": self.warnings,
            "chunks": self.chunks,
        }


def processing_log(result: IngestResult) -> ProcessingLog:
    """The processing log of an ingested document (its `timings` as they are now)."""
    read = [page for page in result.pages if page.error is None]
    confidences = [page.ocr_confidence for page in read
                   if page.method == "ocr" and page.ocr_confidence is not None]
    mean = round(sum(confidences) / len(confidences), 2) if confidences else None
    return ProcessingLog(
        stage_seconds=dict(result.timings),
        pages_text=sum(1 for page in read if page.method == "text"),
        pages_ocr=result.ocr_pages,
        pages_failed=len(result.pages) - len(read),
        ocr_mean_confidence=mean,
        chars_removed=result.chars_removed,
        running_lines_dropped=result.running_lines_dropped,
        warnings=len(result.warnings),
        chunks=len(result.chunks),
    )
