"""A database outage, told apart from a query that is wrong: `is_database_unavailable`.

Why one definition: the HTTP layer answers an outage with 503 `database_unavailable` (and a
query error stays a 500), and the loops that keep lectern running (ingestion workers,
housekeeping, the embedded server's supervisor) back off and log one line instead of a
traceback per attempt. Both must agree on what an outage is.

An outage is a connection that could not be made or was lost: any DB-API error SQLAlchemy
marked `connection_invalidated`, a psycopg `OperationalError` without an SQLSTATE (libpq's own
"connection refused", "server closed the connection unexpectedly") or with one that says the
server cannot serve (class 08 connection exceptions, admin or crash shutdown, starting up,
too many connections), and a pool that had no connection to give within its timeout.
Deadlocks, serialization failures, a cancelled statement and the like are query errors.
"""

from __future__ import annotations

import psycopg
from sqlalchemy import exc as sa_exc

from core.errors import LecternError

RETRY_AFTER_S = 5
"""What an unavailable database asks clients to wait: the supervisor checks every second and
an embedded server restarts in well under that."""

_CANNOT_SERVE = frozenset({
    "57P01",  # admin_shutdown: the server is being stopped
    "57P02",  # crash_shutdown: another backend crashed, every session is ended
    "57P03",  # cannot_connect_now: starting up, recovering or shutting down
    "53300",  # too_many_connections
})


class DatabaseUnavailable(LecternError):
    """The database cannot be reached right now; the request may be retried as it stands.

    The message and details never name the server (no URL, socket path or SQL): they go to
    API clients, and the cause is in the server's log.
    """

    code = "database_unavailable"
    http_status = 503

    def __init__(self, message: str = "the database is unavailable; retry shortly",
                 **details: object) -> None:
        super().__init__(message, **{"retry_after_s": RETRY_AFTER_S, **details})


def _driver_says_unavailable(error: BaseException | None) -> bool:
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate
    return state is None or state.startswith("08") or state in _CANNOT_SERVE


def is_database_unavailable(exc: BaseException) -> bool:
    """True if `exc` means the database could not be reached or the connection was lost
    (see the module doc), False for any other error, query errors included."""
    if isinstance(exc, DatabaseUnavailable | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or _driver_says_unavailable(exc.orig)
    return _driver_says_unavailable(exc)
