"""What counts as a database outage: lost or refused connections and an exhausted pool yes,
query errors (even those psycopg files under `OperationalError`) no."""

from __future__ import annotations

import pickle

import psycopg
import pytest
from psycopg import errors as pg
from sqlalchemy import exc as sa_exc

from core import RETRY_AFTER_S, DatabaseUnavailable, is_database_unavailable


def _wrapped(orig: BaseException, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    """The error SQLAlchemy raises for `orig` from the driver."""
    return sa_exc.DBAPIError.instance("SELECT 1", {}, orig, psycopg.Error,
                                      connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection failed: Connection refused"),
        _wrapped(psycopg.OperationalError("server closed the connection unexpectedly")),
        _wrapped(pg.AdminShutdown()),
        _wrapped(pg.CrashShutdown()),
        _wrapped(pg.CannotConnectNow()),
        _wrapped(pg.TooManyConnections()),
        _wrapped(pg.ConnectionFailure()),
        _wrapped(psycopg.InterfaceError("the connection is lost"), invalidated=True),
        sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
        DatabaseUnavailable(),
    ],
    ids=["refused", "closed", "admin-shutdown", "crash-shutdown", "starting-up",
         "too-many-connections", "class-08", "invalidated", "pool-timeout", "itself"],
)
def test_lost_or_refused_connections_are_an_outage(error: BaseException) -> None:
    assert is_database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(pg.QueryCanceled()),
        _wrapped(pg.DeadlockDetected()),
        _wrapped(pg.SerializationFailure()),
        _wrapped(pg.LockNotAvailable()),
        _wrapped(pg.UndefinedTable()),
        _wrapped(psycopg.InterfaceError("the cursor is closed")),
        pg.QueryCanceled(),
        sa_exc.NoResultFound(),
        RuntimeError("connection refused"),
    ],
    ids=["cancelled", "deadlock", "serialization", "lock-not-available", "undefined-table",
         "interface", "bare-cancelled", "no-result", "not-a-database-error"],
)
def test_query_errors_are_not(error: BaseException) -> None:
    assert not is_database_unavailable(error)


def test_the_503_error_names_no_server_and_survives_pickling() -> None:
    error = DatabaseUnavailable()
    assert (error.code, error.http_status) == ("database_unavailable", 503)
    assert error.details == {"retry_after_s": RETRY_AFTER_S}
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.message, again.details) == (DatabaseUnavailable, error.message,
                                                           error.details)
