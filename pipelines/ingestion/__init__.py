"""Ingestion: uploads become queued jobs that workers run through the ingest pipeline.

Public API:

- `submit_document`, `Submission`, `UploadOutcome`, `get_document`, `list_documents`,
  `list_pages`, `list_chunks`, `delete_document`, `get_job`, `list_jobs`, `wait_for_job`,
  `TERMINAL_STATUSES`: the use case as the API and CLI see it (`jobs`);
- `submit_upload`, `submit_version`, `DocumentBusy`, `PendingVersion`: an upload by
  `external_id` or a document's id as its next version, reusing unchanged chunks' vectors
  (`versions`);
- `update_document`, `DuplicateDocument`, `document_file`, `list_collections`, `Collection`:
  metadata and collection edits without re-embedding, the original bytes, the collections
  (`edits`);
- `cancel_job`, `JobFinished`: stopping a queued or running job (`cancel`);
- `Job`, `JOB_STATUSES`: the job table (`job_table`);
- `Webhook`, `WebhookDelivery`, `DELIVERY_STATUSES`, `job_json`: each tenant's webhook and the
  deliveries written with a job's final state, for `pipelines.webhooks` to send (`outbox`);
- `Worker`, `default_worker_id`: the worker that runs jobs (`worker`; its queue transitions
  are in `queue`), `WorkerPool`, `start_inprocess_workers`: worker threads (`pool`);
- `IngestObserver`: what workers report about finished jobs (`observer`), and `queue_depth`,
  the jobs queued and running (`jobs`), both for the ingestion metrics;
- `RouterTextCleaner`, `own_providers`, `CleanupUnavailable`: OCR cleanup served by the LLM
  router (`ocr_cleanup`);
- `ExtractClaim`, `ExtractJobPayload`, `EXTRACT_KIND`, `submit_extract_job`, `claim_extract`,
  `save_progress`, `finish_extract`, `fail_extract`, `requeue_extract`, `release_extract`,
  `get_extract_job`: extraction jobs on the same queue, for `pipelines.extract`'s worker
  (`extract_queue`);
- `ProviderWait`, `ProviderWaitExceeded`, `call_with_wait`, `is_outage`, `WAITING_STAGE`:
  queued LLM work waiting out a provider outage (`provider_wait`); `JobWakeup`, how an idle
  worker of any kind waits for a job to be announced (`wakeup`).
"""

from pipelines.ingestion.cancel import JobFinished, cancel_job
from pipelines.ingestion.edits import (
    Collection,
    DuplicateDocument,
    document_file,
    list_collections,
    update_document,
)
from pipelines.ingestion.extract_queue import (
    EXTRACT_KIND,
    ExtractClaim,
    ExtractJobPayload,
    claim_extract,
    fail_extract,
    finish_extract,
    get_extract_job,
    release_extract,
    requeue_extract,
    save_progress,
    submit_extract_job,
)
from pipelines.ingestion.job_table import JOB_STATUSES, Job
from pipelines.ingestion.jobs import (
    TERMINAL_STATUSES,
    Submission,
    UploadOutcome,
    delete_document,
    get_document,
    get_job,
    list_chunks,
    list_documents,
    list_jobs,
    list_pages,
    queue_depth,
    submit_document,
    wait_for_job,
)
from pipelines.ingestion.observer import IngestObserver
from pipelines.ingestion.ocr_cleanup import CleanupUnavailable, RouterTextCleaner, own_providers
from pipelines.ingestion.outbox import DELIVERY_STATUSES, Webhook, WebhookDelivery, job_json
from pipelines.ingestion.pool import WorkerPool, start_inprocess_workers
from pipelines.ingestion.provider_wait import (
    WAITING_STAGE,
    ProviderWait,
    ProviderWaitExceeded,
    call_with_wait,
    is_outage,
)
from pipelines.ingestion.versions import DocumentBusy, PendingVersion, submit_upload, submit_version
from pipelines.ingestion.wakeup import JobWakeup
from pipelines.ingestion.worker import DEFAULT_LEASE_SECONDS, Worker, default_worker_id

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DELIVERY_STATUSES",
    "EXTRACT_KIND",
    "JOB_STATUSES",
    "TERMINAL_STATUSES",
    "WAITING_STAGE",
    "CleanupUnavailable",
    "Collection",
    "DocumentBusy",
    "DuplicateDocument",
    "ExtractClaim",
    "ExtractJobPayload",
    "IngestObserver",
    "Job",
    "JobFinished",
    "JobWakeup",
    "PendingVersion",
    "ProviderWait",
    "ProviderWaitExceeded",
    "RouterTextCleaner",
    "Submission",
    "UploadOutcome",
    "Webhook",
    "WebhookDelivery",
    "Worker",
    "WorkerPool",
    "call_with_wait",
    "cancel_job",
    "claim_extract",
    "default_worker_id",
    "delete_document",
    "document_file",
    "fail_extract",
    "finish_extract",
    "get_document",
    "get_extract_job",
    "get_job",
    "is_outage",
    "job_json",
    "list_chunks",
    "list_collections",
    "list_documents",
    "list_jobs",
    "list_pages",
    "own_providers",
    "queue_depth",
    "release_extract",
    "requeue_extract",
    "save_progress",
    "start_inprocess_workers",
    "submit_document",
    "submit_extract_job",
    "submit_upload",
    "submit_version",
    "update_document",
    "wait_for_job",
]
