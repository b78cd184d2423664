"""`term_stats` stays equal to a recount of `chunks`, and full text reads only rare terms' matches.

The document frequencies behind full-text ranking are kept by triggers on `chunks`; every test
here compares them with a fresh count over the chunks themselves after the write paths the
service really uses (ingest, re-ingest, document delete by FK cascade).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db.engine import make_engine
from ingest.store import delete_document, write_corpus
from ingest.types import Chunk
from retrieval.search import search
from tests.support.fake_embedder import HashEmbedder
from tests.support.retrieval_corpus import add_document

RECOUNT = text(
    "SELECT lexeme, count(*) FROM chunks, unnest(tsvector_to_array(tsv)) AS lexeme"
    " WHERE tenant_id = :tenant GROUP BY lexeme"
)
STORED = text("SELECT lexeme, df FROM term_stats WHERE tenant_id = :tenant AND df > 0")


def stats(session: Session, tenant: str) -> dict[str, int]:
    stored = {str(k): int(v) for k, v in session.execute(STORED, {"tenant": tenant}).all()}
    assert stored == {str(k): int(v) for k, v in session.execute(RECOUNT, {"tenant": tenant}).all()}
    return stored


def test_counts_follow_ingest_reingest_and_delete(
    db_session: Session, hasher: HashEmbedder
) -> None:
    first = add_document(
        db_session, tenant="acme", texts=["Pump seal leak.", "Seal replaced."], embed=hasher.embed
    )
    turbine = add_document(db_session, tenant="acme", texts=["Turbine seal."], embed=hasher.embed)
    add_document(db_session, tenant="globex", texts=["Seal, seal, seal."], embed=hasher.embed)
    acme = stats(db_session, "acme")
    assert acme["seal"] == 3 and acme["pump"] == 1 and acme["turbin"] == 1
    assert stats(db_session, "globex") == {"seal": 1}

    chunk = Chunk(ordinal=0, text="Turbine gear.", embed_text="Turbine gear.", section_path=(),
                  page_start=1, page_end=1, char_start=0, char_end=13, token_count=2)
    for _ in range(2):  # a re-ingest replaces the document's chunks, however often it runs
        write_corpus(db_session, document=turbine, pages=[], chunks=[chunk],
                     embeddings=hasher.embed([chunk.text]))
        acme = stats(db_session, "acme")
        assert acme["turbin"] == 1 and acme["gear"] == 1 and acme["seal"] == 2

    assert delete_document(db_session, tenant="acme", document_id=first.id)
    acme = stats(db_session, "acme")
    assert acme == {"turbin": 1, "gear": 1}
    assert stats(db_session, "globex") == {"seal": 1}


def test_rewriting_a_documents_chunks_keeps_counts_exact(
    db_session: Session, hasher: HashEmbedder
) -> None:
    doc = add_document(db_session, tenant="acme", texts=["Valve torque."], embed=hasher.embed)
    db_session.execute(
        text("UPDATE chunks SET text = 'Valve pressure.' WHERE document_id = :d"), {"d": doc.id}
    )
    acme = stats(db_session, "acme")
    assert acme.get("torqu") is None and acme["pressur"] == 1 and acme["valv"] == 1


def test_lexemes_with_quotes_and_backslashes_are_searchable(
    db_session: Session, hasher: HashEmbedder
) -> None:
    doc = add_document(
        db_session, tenant="acme", texts=["Path C:\\tmp\\x and O'Brien's notes."],
        embed=hasher.embed,
    )
    for query in ("C:\\tmp\\x", "O'Brien"):
        hits = search(db_session, tenant="acme", query_text=query,
                      query_vector=hasher.embed([query])[0], mode="text", min_score=-1.0)
        assert [h.document_id for h in hits] == [doc.id], query


def test_candidates_come_from_the_rarest_terms_within_the_scan_budget(
    db_session: Session, hasher: HashEmbedder
) -> None:
    common = [f"Report {i} on the pump." for i in range(30)]
    add_document(db_session, tenant="acme", texts=common, embed=hasher.embed)
    add_document(db_session, tenant="acme", texts=["Gasket on the pump."], embed=hasher.embed)

    def found(query: str, scan_rows: int) -> list[str]:
        hits = search(db_session, tenant="acme", query_text=query, top_k=50,
                      query_vector=hasher.embed([query])[0], mode="text", min_score=-1.0,
                      text_scan_rows=scan_rows)
        return [h.text for h in hits]

    # "gasket" (df 1) fits a 10-row budget and "pump" (df 31) does not: only the gasket chunk
    # is read, and it is scored on both terms.
    assert found("pump gasket", 10) == ["Gasket on the pump."]
    # With room for both, the pump-only chunks come back too, ranked below it.
    wide = found("pump gasket", 100)
    assert wide[0] == "Gasket on the pump." and len(wide) == 31
    # A question of common words only still reads its rarest term, whatever the budget:
    # "report" (df 30) is read in full, "pump" (df 31) is not.
    narrow = found("pump report", 5)
    assert len(narrow) == 30 and all(t.startswith("Report") for t in narrow)


def test_concurrent_ingests_of_one_tenant_neither_deadlock_nor_lose_counts(
    fresh_database_url: Callable[..., str], hasher: HashEmbedder
) -> None:
    """Each writer inserts its chunks in several statements, in opposite lexeme orders: row
    locks taken per statement could deadlock; the per-tenant lock makes the second wait."""
    engine = make_engine(fresh_database_url())
    words = [f"lexeme{i:03d}" for i in range(200)]
    barrier = threading.Barrier(2)

    def ingest(order: list[str]) -> None:
        with Session(engine) as session:
            barrier.wait()
            for batch in range(0, len(order), 50):
                add_document(session, tenant="acme", texts=[" ".join(order[batch:batch + 50])],
                             embed=hasher.embed)
                time.sleep(0.05)  # let the other writer interleave its statements
            session.commit()

    try:
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(ingest, words), pool.submit(ingest, words[::-1])]:
                future.result(timeout=60)
        with Session(engine) as session:
            counts = stats(session, "acme")
        assert len(counts) == 200 and set(counts.values()) == {2}
    finally:
        engine.dispose()


def test_a_selective_filter_widens_the_scan_instead_of_starving_the_list(
    db_session: Session, hasher: HashEmbedder
) -> None:
    big = [f"Report {i} on the pump." for i in range(40)]
    add_document(db_session, tenant="acme", texts=big, embed=hasher.embed, collection="big")
    small = [f"Pump note {i}." for i in range(3)]
    add_document(db_session, tenant="acme", texts=small, embed=hasher.embed, collection="small")
    query = "pump report"
    # tenant-wide, "report" (df 40) alone fills a 10-row budget; none of its chunks is in
    # "small", whose 3 chunks only match "pump".
    hits = search(db_session, tenant="acme", query_text=query, collection="small",
                  query_vector=hasher.embed([query])[0], mode="text", min_score=-1.0,
                  text_scan_rows=10)
    assert sorted(h.text for h in hits) == sorted(small)
