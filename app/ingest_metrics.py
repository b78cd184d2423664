"""Prometheus collectors of ingestion: the `IngestObserver` the composition root hands the
workers, and the queue's depth, counted in the jobs table whenever `/metrics` is scraped.

Why here and not in `pipelines`: the workers only report finished jobs through their narrow
`IngestObserver` seam; turning that into exported series is the app's business, like the
search gate's collectors in `app.search_metrics`.

- `lectern_ingest_jobs_total{status, code}` (counter): jobs that reached a final status,
  `succeeded` (code `none`) or `failed` with their error code;
- `lectern_ingest_pages_total{method}` (counter): pages of ingested documents by how they were
  read: `text` (text layer), `ocr`, or `failed`;
- `lectern_ingest_stage_seconds{stage}` (histogram): each ingested document's seconds per
  stage (reading, ocr, cleanup, chunking, embedding, storing);
- `lectern_ingest_queue_depth{status}` (gauge): jobs `queued` and `running` right now, over
  every tenant. Every process reads the same table, so under `serve --workers N` whichever
  worker answers shows the same figure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.orm import Session

from core import is_database_unavailable
from ingest.processing_log import ProcessingLog
from pipelines import ingestion
from pipelines.ingestion import IngestObserver

log = logging.getLogger("lectern.metrics")
_STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_QUEUE_DEPTH = "lectern_ingest_queue_depth"
_QUEUE_DEPTH_HELP = "Ingestion jobs queued and running now (all tenants)."


class IngestMetrics(IngestObserver):
    """Jobs by final status and error code, pages by method and seconds per stage."""

    def __init__(self, registry: CollectorRegistry, *, namespace: str = "lectern") -> None:
        self.jobs = Counter(
            "ingest_jobs", "Ingestion jobs that reached a final status.", ["status", "code"],
            namespace=namespace, registry=registry)
        self.pages = Counter(
            "ingest_pages", "Pages of ingested documents, by how they were read.", ["method"],
            namespace=namespace, registry=registry)
        self.stage_seconds = Histogram(
            "ingest_stage_seconds", "Seconds an ingested document spent in each stage.",
            ["stage"], namespace=namespace, registry=registry, buckets=_STAGE_BUCKETS)

    def job_finished(self, *, status: str, code: str | None, log: ProcessingLog | None) -> None:
        """Count the job, and the pages and stage seconds of its document's processing log."""
        self.jobs.labels(status, code or "none").inc()
        if log is None:
            return
        for method, pages in (("text", log.pages_text), ("ocr", log.pages_ocr),
                              ("failed", log.pages_failed)):
            self.pages.labels(method).inc(pages)
        for stage, seconds in log.stage_seconds.items():
            self.stage_seconds.labels(stage).observe(seconds)


class QueueDepth:
    """A collector whose gauge is the jobs table's count of queued and running jobs at scrape
    time; a scrape while the database is unreachable shows no samples rather than failing."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The family's name and help, without asking the database."""
        yield GaugeMetricFamily(_QUEUE_DEPTH, _QUEUE_DEPTH_HELP, labels=["status"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauge, one sample per status, counted now."""
        gauge = GaugeMetricFamily(_QUEUE_DEPTH, _QUEUE_DEPTH_HELP, labels=["status"])
        try:
            with self._sessions() as session:
                counts = ingestion.queue_depth(session)
        except Exception as exc:  # a scrape must not fail because the database does
            log.warning("ingestion queue depth unavailable (%s)", type(exc).__name__,
                        exc_info=not is_database_unavailable(exc))
            counts = {}
        for status, jobs in counts.items():
            gauge.add_metric([status], jobs)
        yield gauge
