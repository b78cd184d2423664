"""The one error base: every package's base is a `LecternError`, and its mechanics hold."""

from __future__ import annotations

import pickle

import pytest

from app.errors import ApiError
from core import LecternError
from ingest.errors import IngestError, OcrFailed
from pipelines.errors import JobWaitTimeout, PipelineError
from pipelines.llm import BudgetExceeded, LLMError, ProviderError
from retrieval.errors import InvalidFilter, RetrievalError


@pytest.mark.parametrize("base", [IngestError, RetrievalError, PipelineError, LLMError, ApiError])
def test_each_package_base_is_a_lectern_error(base: type[LecternError]) -> None:
    assert issubclass(base, LecternError)
    assert base is ApiError or base.code != LecternError.code


@pytest.mark.parametrize(
    "error",
    [
        OcrFailed("worker died", page=3),
        InvalidFilter("not a uuid", field="document_ids"),
        JobWaitTimeout("job still running", job_id="j1", status="running"),
        BudgetExceeded("over budget", tenant="t", limit_usd=1.0),
        ProviderError("timed out", provider="openai", model="gpt", status=504),
        ApiError(401, "unauthorized", "missing API key", scheme="Bearer"),
    ],
)
def test_errors_keep_type_message_and_details_across_pickling(error: LecternError) -> None:
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == clone.message == error.message
    assert (clone.code, clone.http_status, clone.details) == (
        error.code, error.http_status, error.details)
    assert clone.to_dict() == {
        "error": {"code": error.code, "message": error.message, "details": error.details}
    }


def test_an_api_error_carries_the_status_and_code_it_was_given() -> None:
    error = ApiError(413, "file_too_large", "too big", limit=10)
    assert (error.http_status, error.code, error.details) == (413, "file_too_large", {"limit": 10})
    assert LecternError.http_status == 500  # the instance's values do not leak into the class
