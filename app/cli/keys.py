"""The database side of `lectern keys ...`: a session whose failures are one line, and what a
new key changes that whoever creates it should hear about.

The keys commands talk to the database directly, on the machine that holds it, often before
`serve` ever ran or while the database is down. A data directory the embedded PostgreSQL
cannot use, a `LECTERN_DATABASE_URL` that cannot be reached, or a database without lectern's
tables then ends the command with one line on stderr saying which, and exit status 1, instead
of a traceback hundreds of lines long.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.auth import DEFAULT_TENANT, keys_ever_created
from core import is_database_unavailable
from pipelines import ingestion

if TYPE_CHECKING:
    from app.settings import Settings

err = Console(stderr=True)
_STARTING_ERRORS = (OSError, RuntimeError, subprocess.SubprocessError, SQLAlchemyError)
"""What starting the embedded server raises: a data directory that is a file or unwritable
(OSError), lectern's `DatabaseSetupError` and the library's RuntimeErrors, initdb or pg_ctl
failing, and the first connection to it failing."""


def _fail(message: str) -> NoReturn:
    err.print(f"[red]database:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(1)


def _first_line(exc: BaseException) -> str:
    """The first line of the error a driver or the operating system gave (not SQLAlchemy's
    wrapping of it, which appends the statement and a link)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


@contextlib.contextmanager
def key_session(settings: Settings) -> Iterator[Session]:
    """A session on the configured database (starting the embedded server if no URL is set);
    exits 1 with one line when the database cannot be started, reached or used."""
    from app.container import start_database
    from app.db.engine import make_engine, session_factory

    if settings.database.url:
        where = f"LECTERN_DATABASE_URL={make_url(settings.database.url).render_as_string()}"
    else:
        where = f"the embedded PostgreSQL in LECTERN_DATA_DIR={settings.database.data_dir}"
    try:
        url, database = start_database(settings)
    except _STARTING_ERRORS as exc:
        _fail(f"cannot start or reach {where}: {_first_line(exc)}")
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with session_factory(engine)() as session:
            yield session
    except SQLAlchemyError as exc:
        if is_database_unavailable(exc):
            _fail(f"cannot reach {where}: {_first_line(exc)}")
        if isinstance(getattr(exc, "orig", None), psycopg.errors.UndefinedTable):
            _fail(f"{where} has no lectern tables yet: run `lectern db upgrade` first")
        raise
    finally:
        engine.dispose()
        if database is not None:
            database.close()


def new_key_notes(session: Session, tenant: str) -> list[str]:
    """What creating a key of `tenant` changes, to be said before it is created: the first key
    ever makes keys required for good, and documents uploaded without a key stay with tenant
    `default`, out of sight of another tenant's key."""
    notes = []
    if not keys_ever_created(session):
        notes.append("note: this is the first API key; from now on every /v1/ request needs a "
                     "key, and revoking keys does not change that")
    if tenant != DEFAULT_TENANT:
        documents = ingestion.list_documents(session, tenant=DEFAULT_TENANT, limit=1).total
        if documents:
            notes.append(
                f"warning: {documents} document(s) were uploaded as tenant {DEFAULT_TENANT!r} "
                f"(without a key) and stay with it; this key of tenant {tenant!r} will not see "
                f"them (a key created with --tenant {DEFAULT_TENANT} will)")
    return notes
