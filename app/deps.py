"""FastAPI dependencies as `Annotated` aliases, so routes read `session: SessionDep`.

The container lives on `app.state.container` (set by `create_app`); a session is opened per
request from its session factory and closed after the response. Service functions commit
their own writes; anything left uncommitted when a request ends is rolled back.

The dependencies are `async def`: FastAPI runs a plain `def` dependency in the thread pool,
and a hop there and back for a dictionary lookup was a measurable share of a request (two hops
for the session alone). A session is created on the event loop (that does no I/O) and closed
there when it never took a connection; only one that did goes to a thread to roll back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from app.container import Container
from app.fields import MAX_OFFSET


async def get_container(request: Request) -> Container:
    """The composition root this app was built with."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_session(container: ContainerDep) -> AsyncIterator[Session]:
    """One database session for the request; closed (uncommitted work rolled back) at the end,
    even when the request is cancelled."""
    session = container.session_factory()
    try:
        yield session
    finally:
        if session.in_transaction():  # it holds a connection: the rollback is I/O
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def get_tenant(request: Request) -> str:
    """The tenant of the request, from its API key (or `default` while auth is off: see
    `app.auth`), as `app.middleware.AuthGateMiddleware` decided it before the body was read.

    Raises `RuntimeError` (a 500) on a route the gate does not cover, so a route outside
    `/v1/` that asks for a tenant fails closed instead of acting for nobody in particular.
    """
    tenant = getattr(request.state, "tenant", None)
    if not isinstance(tenant, str):
        raise RuntimeError(f"{request.url.path} asks for a tenant outside the auth gate's paths")
    return tenant


TenantDep = Annotated[str, Depends(get_tenant)]


Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many items")]
"""A listing's page size (each route sets its own default)."""

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="skip this many items")]
"""How many of a listing's items to skip before its page."""
