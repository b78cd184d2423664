"""Ingestion: uploads become queued jobs that workers run through the ingest pipeline.

Public API:

- `submit_document`, `Submission`, `get_document`, `list_documents`, `list_pages`,
  `list_chunks`, `delete_document`, `get_job`, `list_jobs`, `wait_for_job`,
  `TERMINAL_STATUSES`: the use case as the API and CLI see it (`jobs`);
- `Job`, `JOB_STATUSES`: the job table (`job_table`);
- `Worker`, `WorkerPool`, `start_inprocess_workers`, `default_worker_id`: the workers that run
  jobs (`worker`; their queue transitions are in `queue`);
- `RouterTextCleaner`, `own_providers`, `CleanupUnavailable`: OCR cleanup served by the LLM
  router (`ocr_cleanup`).
"""

from pipelines.ingestion.job_table import JOB_STATUSES, Job
from pipelines.ingestion.jobs import (
    TERMINAL_STATUSES,
    Submission,
    delete_document,
    get_document,
    get_job,
    list_chunks,
    list_documents,
    list_jobs,
    list_pages,
    submit_document,
    wait_for_job,
)
from pipelines.ingestion.ocr_cleanup import CleanupUnavailable, RouterTextCleaner, own_providers
from pipelines.ingestion.worker import (
    Worker,
    WorkerPool,
    default_worker_id,
    start_inprocess_workers,
)

__all__ = [
    "JOB_STATUSES",
    "TERMINAL_STATUSES",
    "CleanupUnavailable",
    "Job",
    "RouterTextCleaner",
    "Submission",
    "Worker",
    "WorkerPool",
    "default_worker_id",
    "delete_document",
    "get_document",
    "get_job",
    "list_chunks",
    "list_documents",
    "list_jobs",
    "list_pages",
    "own_providers",
    "start_inprocess_workers",
    "submit_document",
    "wait_for_job",
]
