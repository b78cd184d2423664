"""Process logging: one line per event, `key=value` fields, UTC timestamps.

Called once by the CLI entry points; library code only asks `logging.getLogger(__name__)`.
"""

from __future__ import annotations

import logging
import sys
import time

FORMAT = "ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records to stderr in the lectern line format at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UtcFormatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log would duplicate lectern.access; its error log is kept.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # alembic announces each of its built-in plugins at INFO on import: 7 lines of noise
    # before any command's own output (a one-line error included).
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
