"""pypdf's warnings, summed up in one line per document instead of dumped one by one.

pypdf reports each robustness fix it applies through its `pypdf.*` loggers: on real filings
that is dozens of lines per document, some quoting a whole font dictionary. While a document's
text layer is read inside `collect_pdf_warnings()`, those records are only counted (per
thread, since several workers read documents at once) and one short line sums them up at the
end. Outside such a block, pypdf's records reach the root logger's handlers as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)
EXAMPLE_CHARS = 120
"""How much of the first warning the summary line quotes."""


@dataclass
class PdfWarnings:
    """The pypdf warnings of one document: how many, and the first one (shortened)."""

    count: int = 0
    first: str | None = None


class _Collector(logging.Handler):
    """Counts pypdf warnings into the tally of the current thread's block; passes on the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        tally: PdfWarnings | None = getattr(self.local, "tally", None)
        if tally is None or record.levelno != logging.WARNING:
            logging.getLogger().handle(record)
            return
        tally.count += 1
        if tally.first is None:
            tally.first = record.getMessage()[:EXAMPLE_CHARS]


_install_lock = threading.Lock()
_collectors: list[_Collector] = []


def _collector() -> _Collector:
    """The one collector, attached to the `pypdf` logger (which then stops propagating)."""
    with _install_lock:
        if not _collectors:
            collector = _Collector()
            pypdf_logger = logging.getLogger("pypdf")
            pypdf_logger.addHandler(collector)
            pypdf_logger.propagate = False
            _collectors.append(collector)
        return _collectors[0]


@contextmanager
def collect_pdf_warnings() -> Iterator[PdfWarnings]:
    """Count the pypdf warnings this thread logs inside the block; log one line about them at
    the end (when there were any)."""
    collector = _collector()
    outer: PdfWarnings | None = getattr(collector.local, "tally", None)
    tally = collector.local.tally = PdfWarnings()
    try:
        yield tally
    finally:
        collector.local.tally = outer
        if tally.count:
            log.warning("pypdf reported %d problem(s) in the text layer, the first: %s",
                        tally.count, tally.first)
