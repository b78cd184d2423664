"""Structured extraction: a document, text or upload plus a schema → validated JSON with evidence.

Public API:

- `extract(router, tenant=, schema=, pages=)`, `DEFAULT_MAX_ATTEMPTS`, `MAX_ATTEMPTS_LIMIT`: the
  core use case (`service`);
- `extract_document`, `extract_text`, `extract_upload`: the three inputs (`sources`);
- `SCHEMAS`, `named_schema`, `resolve_target`: the named Pydantic schemas (`schemas`);
- `custom_target`, `check_custom_schema`: caller-supplied JSON Schemas (`json_schema`);
- `normalize_date`, `normalize_amount`: the documented normalisation (`normalize`);
- `find_evidence`: page and quote for each value (`evidence`);
- `submit_extraction`, `get_extraction_job`, `ExtractionJob`, `MAX_JOB_DOCUMENTS`: extraction
  as a queued job over documents, a collection or text (`jobs`);
- `ExtractWorker`, `derive_router`: the worker that runs those jobs, waiting out provider
  outages (`worker`), `ExtractPool`, `start_extract_workers`: its threads (`pool`);
- errors under `ExtractionError` (`errors`).
"""

from pipelines.extract.errors import (
    DocumentNotReady,
    ExtractionError,
    ExtractionFailed,
    InvalidSchema,
    NoExtractor,
    NothingToExtract,
)
from pipelines.extract.evidence import Evidence, SourcePage, find_evidence
from pipelines.extract.jobs import (
    MAX_JOB_DOCUMENTS,
    ExtractionJob,
    get_extraction_job,
    submit_extraction,
)
from pipelines.extract.json_schema import Target, check_custom_schema, custom_target
from pipelines.extract.normalize import normalize_amount, normalize_date
from pipelines.extract.pool import ExtractPool, start_extract_workers
from pipelines.extract.schemas import SCHEMAS, NamedSchema, named_schema, resolve_target
from pipelines.extract.service import (
    DEFAULT_MAX_ATTEMPTS,
    MAX_ATTEMPTS_LIMIT,
    ExtractionResult,
    extract,
)
from pipelines.extract.sources import extract_document, extract_text, extract_upload
from pipelines.extract.worker import ExtractWorker, derive_router

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "MAX_ATTEMPTS_LIMIT",
    "MAX_JOB_DOCUMENTS",
    "SCHEMAS",
    "DocumentNotReady",
    "Evidence",
    "ExtractPool",
    "ExtractWorker",
    "ExtractionError",
    "ExtractionFailed",
    "ExtractionJob",
    "ExtractionResult",
    "InvalidSchema",
    "NamedSchema",
    "NoExtractor",
    "NothingToExtract",
    "SourcePage",
    "Target",
    "check_custom_schema",
    "custom_target",
    "derive_router",
    "extract",
    "extract_document",
    "extract_text",
    "extract_upload",
    "find_evidence",
    "get_extraction_job",
    "named_schema",
    "normalize_amount",
    "normalize_date",
    "resolve_target",
    "start_extract_workers",
    "submit_extraction",
]
