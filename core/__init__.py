"""What every package of lectern shares and nothing of the project is imported by it.

Public API:

- `LecternError`: the one error base (`code`, `message`, `details`, `http_status`) (`errors`);
- `Base`, `NAMING_CONVENTION`: the declarative base of every table, and `ASYNC_COMMIT`, for
  a transaction whose commit need not wait for the disk (`orm`);
- `is_database_unavailable`, `DatabaseUnavailable`, `RETRY_AFTER_S`: what a database outage
  is, and the 503 error it answers (`outage`);
- `Backoff`, `FailureStreak`: capped exponential backoff with jitter, and a retried loop's
  failures logged once per state change (`backoff`).
"""

from core.backoff import Backoff, FailureStreak
from core.errors import LecternError
from core.orm import ASYNC_COMMIT, NAMING_CONVENTION, Base
from core.outage import RETRY_AFTER_S, DatabaseUnavailable, is_database_unavailable

__all__ = [
    "ASYNC_COMMIT",
    "NAMING_CONVENTION",
    "RETRY_AFTER_S",
    "Backoff",
    "Base",
    "DatabaseUnavailable",
    "FailureStreak",
    "LecternError",
    "is_database_unavailable",
]
