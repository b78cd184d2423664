"""`lectern mcp`: the MCP tools over stdio, for desktop clients that start their servers.

The client starts `lectern mcp` and talks JSON-RPC on its stdin and stdout, so stdout carries
nothing else: while lectern starts (settings, the database, perhaps the embedded PostgreSQL,
the embedding model) file descriptor 1 points at stderr, so no library, log line or child
process (a postmaster inherits it) writes into the protocol; the SDK's stdio transport then
keeps it diverted while it serves. Logs go to stderr, which clients show as the server's log.

The process acts as one tenant: that of `--api-key` (or `LECTERN_API_KEY`), checked against
the database at start (an unknown or revoked key exits 1), or `default` while auth is off
(`app.auth`); with keys required and none given it exits 1 saying so. Each call checks the key
again, so a key revoked while a client runs is refused from then on, as over HTTP. The tools
run in this process on the database directly (`LECTERN_DATABASE_URL`, else the embedded
server in `LECTERN_DATA_DIR`), without OCR processes or ingestion workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context
    from sqlalchemy.exc import SQLAlchemyError

    from app.container import Container

# The server side (SDK, database, models) is imported when the command runs, as in
# `app.cli.main`, so that loading the CLI for another command stays fast.

err = Console(stderr=True)


def _fail(message: str, status: int = 1) -> NoReturn:
    err.print(f"[red]lectern mcp:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(status)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr for the duration, then back at the client's pipe."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _database_failure(exc: SQLAlchemyError) -> NoReturn:
    """Exit 1 with one line for a database that is down or has no tables; raise the rest."""
    import psycopg

    from core import is_database_unavailable

    if is_database_unavailable(exc):
        _fail(f"cannot reach the database: {type(getattr(exc, 'orig', None) or exc).__name__}")
    if isinstance(getattr(exc, "orig", None), psycopg.errors.UndefinedTable):
        _fail("the database has no lectern tables yet: run `lectern db upgrade` first")
    raise exc


def _start(api_key: str | None) -> tuple[Container, str]:
    """Settings, the container (no OCR) and the tenant `api_key` acts for; exits 2 on bad
    settings and 1 on a database that cannot be used or a key that is refused."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.auth import DEFAULT_TENANT, auth_required, tenant_for_key
    from app.container import build_container
    from app.db.engine import DatabaseSetupError
    from app.logs import configure_logging
    from app.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc), 2)
    configure_logging(settings.log.level)
    try:
        container = build_container(settings, with_ocr=False)
    except DatabaseSetupError as exc:
        _fail(f"database: {exc}")
    except SettingsError as exc:
        _fail(str(exc), 2)
    except SQLAlchemyError as exc:
        _database_failure(exc)
    try:
        with container.session_factory() as session:
            if api_key:
                tenant = tenant_for_key(session, api_key)
            elif auth_required(session, settings.auth.mode):
                tenant = None
            else:
                tenant = DEFAULT_TENANT
    except SQLAlchemyError as exc:
        container.close()
        _database_failure(exc)
    if tenant is None:
        container.close()
        _fail("invalid or revoked API key" if api_key else
              "this lectern requires an API key: pass --api-key or set LECTERN_API_KEY")
    return container, tenant


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (a client stopping its server) ends the process through `finally` blocks, so
    the container (and an embedded database) is released."""
    raise SystemExit(0)


def mcp(
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="LECTERN_API_KEY",
        help="act as this key's tenant (not needed while auth is off)")] = None,
) -> None:
    """Serve the MCP tools (search, ask, extract, list_documents, get_document) over stdio."""
    import anyio

    from app.auth import authenticate
    from app.mcp import build_server

    with _stdout_to_stderr():
        container, tenant = _start(api_key)
    header = f"Bearer {api_key}" if api_key else None

    async def tenant_of(ctx: Context) -> str:
        return await asyncio.to_thread(authenticate, container.session_factory,
                                       container.settings.auth.mode, header)

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    err.print(f"lectern mcp: serving tenant {tenant!r} over stdio", markup=False)
    try:
        anyio.run(build_server(container, tenant_of).run_stdio_async)
    except KeyboardInterrupt:
        pass
    finally:
        container.close()
