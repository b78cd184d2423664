"""Search filters: which chunks a query may see at all, as SQL predicates.

The tenant filter and "document is `ready`" are always applied; collection, document ids and a
metadata filter (JSONB containment on `documents.metadata`) narrow further. Every ranked list
(vector, full text) applies the same predicates *inside* its scan, before its LIMIT, so a
selective filter never starves the top-k (together with pgvector's iterative index scans,
`configure_index_scan`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, Text, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from ingest.corpus import ChunkRow, Document
from retrieval.errors import InvalidFilter

Ts = TypeVarTuple("Ts")

MAX_SCAN_TUPLES = 50_000
"""How many index tuples an iterative HNSW scan may visit before giving up (pgvector: 20 000)."""

MAX_DOCUMENT_IDS = 1000
MAX_METADATA_BYTES = 8192


@dataclass(frozen=True)
class SearchFilters:
    """Validated filters. Build with `make_filters`, which checks and normalises the input.

    `metadata` uses JSONB containment: `{"year": 2023, "tags": ["q3"]}` matches documents whose
    metadata has `year` 2023 and a `tags` array holding "q3" (other keys may be present).
    """

    tenant: str
    collection: str | None = None
    document_ids: tuple[uuid.UUID, ...] | None = None
    metadata: Mapping[str, Any] | None = None


def make_filters(
    *,
    tenant: str,
    collection: str | None = None,
    document_ids: Iterable[uuid.UUID | str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> SearchFilters:
    """Check and normalise filter input; raises `InvalidFilter` naming the bad field."""
    if not tenant:
        raise InvalidFilter("tenant must be non-empty", field="tenant")
    if collection is not None and not collection:
        raise InvalidFilter("collection must be non-empty when given", field="collection")
    return SearchFilters(
        tenant=tenant,
        collection=collection,
        document_ids=_document_ids(document_ids),
        metadata=_metadata(metadata),
    )


def _document_ids(values: Iterable[uuid.UUID | str] | None) -> tuple[uuid.UUID, ...] | None:
    if values is None:
        return None
    if isinstance(values, str | bytes):
        raise InvalidFilter("document_ids must be a list of ids", field="document_ids")
    ids: list[uuid.UUID] = []
    for value in values:
        try:
            ids.append(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except ValueError:
            raise InvalidFilter(
                "document id is not a UUID", field="document_ids", value=str(value)[:64]
            ) from None
    if not ids:
        raise InvalidFilter("document_ids must be non-empty when given", field="document_ids")
    if len(ids) > MAX_DOCUMENT_IDS:
        raise InvalidFilter(
            f"at most {MAX_DOCUMENT_IDS} document ids", field="document_ids", count=len(ids)
        )
    return tuple(dict.fromkeys(ids))


def _metadata(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidFilter("metadata filter must be a JSON object", field="metadata")
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidFilter(f"metadata filter is not valid JSON: {exc}", field="metadata") from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise InvalidFilter(
            f"metadata filter over {MAX_METADATA_BYTES} bytes", field="metadata", size=len(encoded)
        )
    return dict(value) if value else None


@dataclass(frozen=True)
class FilterShape:
    """Which optional filters a search has: all the SQL depends on (the values are bound)."""

    collection: bool = False
    document_ids: bool = False
    metadata: bool = False

    @classmethod
    def of(cls, filters: SearchFilters) -> FilterShape:
        return cls(filters.collection is not None, filters.document_ids is not None,
                   filters.metadata is not None)


def filter_values(filters: SearchFilters) -> dict[str, Any]:
    """The bound values of the parameters `filter_clauses` and `document_clauses` name."""
    values: dict[str, Any] = {"tenant": filters.tenant}
    if filters.collection is not None:
        values["collection"] = filters.collection
    if filters.document_ids is not None:
        values["document_ids"] = list(filters.document_ids)
    if filters.metadata is not None:
        values["metadata"] = dict(filters.metadata)
    return values


TENANT = bindparam("tenant", type_=Text)


def filter_clauses(shape: FilterShape) -> list[ColumnElement[bool]]:
    """The WHERE predicates over `chunks` joined to `documents` that every ranked list applies
    (collection and ids on the chunk's own columns, which its indexes cover)."""
    return [ChunkRow.tenant_id == TENANT,
            *_clauses(shape, collection=ChunkRow.collection, document_id=ChunkRow.document_id)]


def document_clauses(shape: FilterShape) -> list[ColumnElement[bool]]:
    """The same filters on `documents` alone (a chunk's collection is its document's)."""
    return _clauses(shape, collection=Document.collection, document_id=Document.id)


def _clauses(shape: FilterShape, *, collection: SQLColumnExpression[str],
             document_id: SQLColumnExpression[uuid.UUID]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [Document.tenant_id == TENANT, Document.status == "ready"]
    if shape.collection:
        clauses.append(collection == bindparam("collection", type_=Text))
    if shape.document_ids:
        clauses.append(document_id.in_(bindparam("document_ids", expanding=True)))
    if shape.metadata:
        clauses.append(Document.metadata_.contains(bindparam("metadata", type_=JSONB)))
    return clauses


def scoped(query: Select[*Ts], shape: FilterShape) -> Select[*Ts]:
    """`query` over `chunks` joined to its `documents` row, restricted by the filters."""
    return query.join(Document, Document.id == ChunkRow.document_id).where(*filter_clauses(shape))


def configure_index_scan(session: Session, *, depth: int) -> None:
    """Let filtered HNSW scans keep going until `depth` rows pass, for the rest of the transaction.

    Without this an HNSW scan yields about `hnsw.ef_search` nearest rows and the filters are
    applied afterwards, so a tenant holding 2% of the rows gets ~1 hit instead of ten.
    `relaxed_order` is safe because every vector list is re-sorted by exact distance (a
    MATERIALIZED CTE); `ef_search` ≥ depth keeps the first batch as deep as the list. The
    settings are transaction-local (`set_config(..., true)`) and need no privileges.
    """
    session.execute(
        text(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
            " set_config('hnsw.ef_search', :ef, true),"
            " set_config('hnsw.max_scan_tuples', :tuples, true)"
        ),
        {"ef": str(min(1000, max(40, depth))), "tuples": str(MAX_SCAN_TUPLES)},
    )


@contextmanager
def statement_timeout(session: Session, timeout_ms: int) -> Iterator[None]:
    """Statements in the block are cancelled by the server after `timeout_ms`; the setting the
    transaction had before comes back afterwards (not after an error: the transaction is
    aborted then, and its settings end with it)."""
    before = session.execute(
        text("SELECT current_setting('statement_timeout'),"
             " set_config('statement_timeout', :ms, true)"),
        {"ms": str(max(1, timeout_ms))},
    ).scalar_one()
    yield
    session.execute(text("SELECT set_config('statement_timeout', :v, true)"), {"v": before})
