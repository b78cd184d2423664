"""Search on a real PostgreSQL: tenant isolation, filters, hit fields, validation errors.

Vectors come from the deterministic `HashEmbedder` (shared words → similar vectors), so these
tests are about the SQL, not the model; quality and the threshold are tested with the real
model in `test_quality.py`.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from retrieval.errors import InvalidFilter, InvalidQuery
from retrieval.search import search
from retrieval.types import Hit
from tests.support.fake_embedder import HashEmbedder
from tests.support.retrieval_corpus import add_document

MODES = ("vector", "text", "hybrid")


def run(session: Session, embedder: HashEmbedder, query: str, **kwargs: object) -> list[Hit]:
    defaults: dict[str, object] = {"tenant": "acme", "mode": "hybrid", "top_k": 10}
    defaults["min_score"] = -1.0
    defaults.update(kwargs)
    return search(session, query_text=query, query_vector=embedder.embed([query])[0], **defaults)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_a_tenant_never_sees_another_tenants_chunks(
    db_session: Session, hasher: HashEmbedder, mode: str
) -> None:
    shared = "The turbine maintenance schedule is every six months."
    mine = add_document(db_session, tenant="acme", texts=[shared], embed=hasher.embed)
    theirs = add_document(
        db_session,
        tenant="globex",
        texts=[shared, "Globex secret turbine blueprint codename falcon."],
        embed=hasher.embed,
    )
    for query in ("turbine maintenance schedule", "codename falcon blueprint"):
        as_acme = run(db_session, hasher, query, mode=mode)
        assert {h.document_id for h in as_acme} <= {mine.id}
        assert all(h.text == shared for h in as_acme)
    assert [h.document_id for h in run(db_session, hasher, "turbine schedule", mode=mode)] == [
        mine.id
    ]
    as_globex = run(db_session, hasher, "codename falcon blueprint", tenant="globex", mode=mode)
    assert as_globex[0].document_id == theirs.id and "falcon" in as_globex[0].text


def test_only_ready_documents_are_searchable(db_session: Session, hasher: HashEmbedder) -> None:
    ready = add_document(db_session, tenant="acme", texts=["pump seal leak"], embed=hasher.embed)
    for status in ("processing", "failed"):
        add_document(
            db_session, tenant="acme", texts=["pump seal leak"], embed=hasher.embed, status=status
        )
    for mode in MODES:
        assert [h.document_id for h in run(db_session, hasher, "pump seal", mode=mode)] == [
            ready.id
        ]


@pytest.mark.parametrize("mode", MODES)
def test_collection_document_and_metadata_filters(
    db_session: Session, hasher: HashEmbedder, mode: str
) -> None:
    text_ = "Quarterly revenue grew in the northern region."
    manuals = add_document(
        db_session,
        tenant="acme",
        texts=[text_],
        embed=hasher.embed,
        collection="manuals",
        metadata={"year": 2023, "tags": ["q3", "north"], "owner": {"team": "finance"}},
    )
    reports = add_document(
        db_session,
        tenant="acme",
        texts=[text_],
        embed=hasher.embed,
        collection="reports",
        metadata={"year": 2024, "tags": ["q3"]},
    )
    plain = add_document(db_session, tenant="acme", texts=[text_], embed=hasher.embed)

    def ids(**filters: object) -> set[uuid.UUID]:
        return {
            h.document_id
            for h in run(db_session, hasher, "quarterly revenue", mode=mode, **filters)
        }

    assert ids() == {manuals.id, reports.id, plain.id}
    assert ids(collection="reports") == {reports.id}
    assert ids(document_ids=[manuals.id, str(plain.id)]) == {manuals.id, plain.id}
    assert ids(metadata={"tags": ["q3"]}) == {manuals.id, reports.id}
    assert ids(metadata={"year": 2023}) == {manuals.id}
    assert ids(metadata={"owner": {"team": "finance"}}) == {manuals.id}
    assert ids(metadata={"year": 2023}, collection="reports") == set()
    assert ids(metadata={}) == {manuals.id, reports.id, plain.id}


def test_hybrid_hits_carry_both_rankings_and_a_cosine_score_for_text_only_hits(
    db_session: Session, hasher: HashEmbedder
) -> None:
    # Word-for-word the query: first in both lists. The other shares one rare word only.
    exact = add_document(
        db_session, tenant="acme", texts=["valve ZX-81 pressure reading"], embed=hasher.embed
    )
    other = add_document(
        db_session,
        tenant="acme",
        texts=["the loading dock pressure washer and nothing else of note here today"],
        embed=hasher.embed,
    )
    hits = run(db_session, hasher, "valve ZX-81 pressure reading", mode="hybrid")
    assert [h.document_id for h in hits][:2] == [exact.id, other.id]
    top = hits[0]
    assert (top.rank, top.vector_rank, top.text_rank) == (1, 1, 1)
    assert top.fused_score == pytest.approx(2 / 61)
    assert top.score == pytest.approx(1.0, abs=1e-5) and top.score == top.vector_score
    assert top.text_score is not None and top.text_score > 0
    assert hits[1].text_rank == 2 and hits[1].score < top.score
    assert top.section_path == () and top.filename.endswith(".txt")
    assert top.char_start == 0 and top.char_end == len(top.text)


def test_vector_mode_orders_by_cosine_and_text_mode_by_text_rank(
    db_session: Session, hasher: HashEmbedder
) -> None:
    add_document(
        db_session,
        tenant="acme",
        texts=["alpha beta gamma", "alpha beta delta", "alpha epsilon zeta", "omega psi chi"],
        embed=hasher.embed,
    )
    vector = run(db_session, hasher, "alpha beta gamma", mode="vector")
    assert [h.score for h in vector] == sorted((h.score for h in vector), reverse=True)
    assert vector[0].text == "alpha beta gamma" and vector[0].text_rank is None
    textual = run(db_session, hasher, "alpha beta gamma", mode="text")
    assert [h.text for h in textual] == [
        "alpha beta gamma",
        "alpha beta delta",
        "alpha epsilon zeta",
    ]
    assert [h.text_rank for h in textual] == [1, 2, 3] and textual[0].vector_rank is None


def test_iterative_index_scan_is_switched_on_for_the_transaction(
    db_session: Session, hasher: HashEmbedder
) -> None:
    add_document(db_session, tenant="acme", texts=["anything at all"], embed=hasher.embed)
    run(db_session, hasher, "anything", mode="vector", top_k=5, candidates=300)
    assert db_session.scalar(text("SHOW hnsw.iterative_scan")) == "relaxed_order"
    assert db_session.scalar(text("SHOW hnsw.ef_search")) == "300"


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"document_ids": ["not-a-uuid"]}, InvalidFilter, "document_ids"),
        ({"document_ids": []}, InvalidFilter, "document_ids"),
        ({"metadata": ["year", 2023]}, InvalidFilter, "metadata"),
        ({"metadata": {"x": float("nan")}}, InvalidFilter, "metadata"),
        ({"collection": ""}, InvalidFilter, "collection"),
        ({"top_k": 0}, InvalidQuery, "top_k"),
        ({"mode": "fuzzy"}, InvalidQuery, "mode"),
        ({"min_score": 1.5}, InvalidQuery, "min_score"),
        ({"query_vector": [0.1] * 8}, InvalidQuery, "query_vector"),
        ({"query_text": "   ", "mode": "text"}, InvalidQuery, "query_text"),
    ],
)
def test_bad_requests_are_422_errors_naming_the_field(
    db_session: Session, kwargs: dict[str, object], error: type[Exception], field: str
) -> None:
    arguments: dict[str, object] = {
        "tenant": "acme",
        "query_text": "pumps",
        "query_vector": [1.0] + [0.0] * 383,
        "min_score": 0.0,
    }
    arguments.update(kwargs)
    with pytest.raises(error) as caught:
        search(db_session, **arguments)  # type: ignore[arg-type]
    assert caught.value.http_status == 422  # type: ignore[attr-defined]
    assert caught.value.details["field"] == field  # type: ignore[attr-defined]
    assert caught.value.to_dict()["error"]["code"] in ("invalid_filter", "invalid_query")  # type: ignore[attr-defined]
