"""The request dependencies (`app.deps`): run on the event loop, and a request's session gives
its connection back however the request ends (real PostgreSQL, the app in-process)."""

from __future__ import annotations

import inspect

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.container import Container
from app.deps import SessionDep, TenantDep, get_container, get_session, get_tenant
from app.openai_compat.deps import get_gateway


def test_the_dependencies_run_on_the_event_loop_not_in_the_thread_pool() -> None:
    # FastAPI sends a plain `def` dependency to the thread pool: a hop per request for each.
    for dependency in (get_container, get_tenant, get_gateway):
        assert inspect.iscoroutinefunction(dependency), dependency.__name__
    assert inspect.isasyncgenfunction(get_session)


def _probe_routes(app: FastAPI, seen: dict[str, object]) -> None:
    @app.get("/v1/probe/read")
    def read(session: SessionDep, tenant: TenantDep) -> dict[str, str]:
        seen["in_transaction"] = session.execute(text("select 1")).scalar_one() == 1 \
            and session.in_transaction()
        return {"tenant": tenant}

    @app.get("/v1/probe/fail")
    def fail(session: SessionDep) -> None:
        session.execute(text("create table probe_failed (n int)"))
        raise RuntimeError("the route failed with its transaction open")

    @app.get("/v1/probe/unused")
    async def unused(session: SessionDep) -> dict[str, bool]:
        return {"bound": session.in_transaction()}


def test_a_session_left_in_a_transaction_is_rolled_back_and_its_connection_returned(
        app: FastAPI, client: TestClient, container: Container) -> None:
    seen: dict[str, object] = {}
    _probe_routes(app, seen)
    pool = container.engine.pool

    assert client.get("/v1/probe/read").json() == {"tenant": "default"}
    assert seen["in_transaction"] is True
    assert pool.checkedout() == 0  # type: ignore[attr-defined]

    assert client.get("/v1/probe/fail").status_code == 500
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    with container.engine.connect() as connection:  # nothing of the failed request remains
        assert connection.execute(text("select to_regclass('probe_failed')")).scalar() is None

    before = pool.checkedout()  # type: ignore[attr-defined]
    assert client.get("/v1/probe/unused").json() == {"bound": False}
    assert pool.checkedout() == before  # type: ignore[attr-defined]
