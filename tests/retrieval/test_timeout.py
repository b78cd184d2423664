"""A search that runs past its time limit is cancelled by PostgreSQL and reported as a 503."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from retrieval.errors import SearchTimedOut
from retrieval.search import search
from tests.support.fake_embedder import HashEmbedder


def test_a_blocked_search_is_cancelled_after_its_timeout(
    engine: Engine, db_session: Session, hasher: HashEmbedder
) -> None:
    with engine.connect() as blocker:  # holds the lock the search needs to read term_stats
        blocker.execute(text("LOCK TABLE term_stats IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        try:
            search(db_session, tenant="acme", query_text="pump seal", mode="text",
                   query_vector=hasher.embed(["pump seal"])[0], timeout_ms=300)
        except SearchTimedOut as exc:
            error = exc
        else:
            raise AssertionError("the blocked search returned")
        took = time.monotonic() - started
        blocker.rollback()
    assert 0.25 < took < 5
    assert error.http_status == 503
    assert error.to_dict()["error"] == {
        "code": "search_timeout",
        "message": "search was cancelled after 300 ms",
        "details": {"timeout_ms": 300},
    }


def test_the_timeout_is_lifted_after_the_search(db_session: Session, hasher: HashEmbedder) -> None:
    db_session.execute(text("SET LOCAL statement_timeout = '42s'"))
    search(db_session, tenant="acme", query_text="pump", query_vector=hasher.embed(["pump"])[0],
           timeout_ms=300)
    assert db_session.execute(text("SHOW statement_timeout")).scalar_one() == "42s"
