"""What the ingestion workers report about finished jobs: the `IngestObserver` seam.

As with the search gate's `GateObserver`, the composition root hands the workers the
Prometheus collectors (`app.ingest_metrics`); this package knows nothing of metrics.
"""

from __future__ import annotations

from typing import Protocol

from ingest.processing_log import ProcessingLog


class IngestObserver(Protocol):
    """Told each time an ingestion job reaches its final status.

    `job_finished` is called by the worker thread that ran the job, once its outcome is
    committed: status "succeeded" with the document's processing log, or "failed" with the
    error code and no log. A job that goes back to the queue (a retryable error, a shutdown)
    has not finished and is not reported. It must be thread-safe, quick (no I/O) and must not
    raise.
    """

    def job_finished(self, *, status: str, code: str | None, log: ProcessingLog | None) -> None:
        """A job ended `status`; `code` is its error code, `log` its document's processing log."""


class Unobserved:
    """The observer of workers nobody watches."""

    def job_finished(self, *, status: str, code: str | None, log: ProcessingLog | None) -> None:
        """Ignore it."""
