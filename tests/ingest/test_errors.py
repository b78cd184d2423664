"""The error mechanics every package's base shares through `ingest.errors.StructuredError`."""

from __future__ import annotations

import pickle

import pytest

from ingest.errors import IngestError, OcrFailed, StructuredError
from pipelines.errors import JobWaitTimeout, PipelineError
from retrieval.errors import InvalidFilter, RetrievalError


@pytest.mark.parametrize("base", [IngestError, RetrievalError, PipelineError])
def test_each_package_base_is_a_structured_error(base: type[StructuredError]) -> None:
    assert issubclass(base, StructuredError)
    assert base.code != StructuredError.code


@pytest.mark.parametrize(
    "error",
    [
        OcrFailed("worker died", page=3),
        InvalidFilter("not a uuid", field="document_ids"),
        JobWaitTimeout("job still running", job_id="j1", status="running"),
    ],
)
def test_errors_keep_type_message_and_details_across_pickling(error: StructuredError) -> None:
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == clone.message == error.message
    assert clone.details == error.details
    assert clone.to_dict() == {
        "error": {"code": error.code, "message": error.message, "details": error.details}
    }
