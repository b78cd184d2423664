"""Request fields as the routes declare them, each refused with 422 naming it when lectern
could not store it or serve it back exactly as sent.

Text must hold no NUL, other C0 control or lone surrogate (PostgreSQL refuses the first,
UTF-8 cannot encode the last); JSON objects (metadata, filters, schemas) must nest at most
`MAX_JSON_DEPTH` levels and hold only finite numbers. The checks are `ingest.storable`'s, the
same that guard what ingestion stores, so a value either passes both or neither.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from app.errors import ApiError
from ingest.storable import json_problem, unstorable_char

MAX_OFFSET = 1_000_000_000
"""The largest listing offset: far past any tenant's items, far below PostgreSQL's bigint."""


def check_text(value: str) -> str:
    """`value` unchanged, or `ValueError` saying which character lectern cannot store."""
    if (problem := unstorable_char(value)) is not None:
        raise ValueError(problem)
    return value


def check_json(value: dict[str, Any]) -> dict[str, Any]:
    """`value` unchanged, or `ValueError` saying where it is too deep, not finite or unstorable."""
    if (problem := json_problem(value)) is not None:
        raise ValueError(problem)
    return value


def check_form_text(field: str, value: str) -> str:
    """A multipart field's text, or 422 `invalid_text` naming `field` (forms are read by hand,
    outside pydantic)."""
    if (problem := unstorable_char(value)) is not None:
        raise ApiError(422, "invalid_text", f"{field} {problem}", field=field)
    return value


Text = Annotated[str, AfterValidator(check_text)]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]

# The request fields `/v1/ask` and `/v1/search` share, with the same limits.
QueryText = Annotated[Text, Field(min_length=1, max_length=4000)]
MinScore = Annotated[float | None, Field(ge=-1.0, le=1.0, description=(
    "threshold on each hit's score: the cosine in vector mode, the higher of the cosine and "
    "text coverage × 0.5 in text and hybrid mode; omitted: the calibrated default"))]
SearchMode = Literal["hybrid", "vector", "text"]
CollectionName = Annotated[Text | None, Field(min_length=1, max_length=200)]
DocumentIds = Annotated[list[uuid.UUID] | None, Field(min_length=1, max_length=1000)]
MetadataFilter = Annotated[JsonObject | None, Field(description="metadata values to match")]
