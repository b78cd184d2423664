"""Which runtime runs the embedding model (`LECTERN_EMBEDDING_RUNTIME`), a group of `Settings`.

Kept in a module of its own so that `app.settings` stays small. `onnx`, the default, is the
bundled weights exported once to ONNX (a few seconds at the first start) and run by ONNX
Runtime: fp32, vectors interchangeable with torch's, so a corpus embedded on torch keeps
working. `torch` is sentence-transformers on CPU torch. `onnx-int8` is the ONNX graph with
int8 weights (faster still, and vectors close to but not interchangeable with the others', so
a corpus embedded by one refuses the other at start-up). Exports are cached in
`LECTERN_EMBEDDING_CACHE_DIR`, by default `embedding-cache` in the data directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

EmbeddingRuntime = Literal["torch", "onnx", "onnx-int8"]
DEFAULT_RUNTIME: EmbeddingRuntime = "onnx"
"""The default runtime: the issue's rule (the faster runtime is the default when SciFact
nDCG@10 moves by at most 0.005 and the vectors mix with an existing corpus) holds for fp32
ONNX: nDCG@10 unchanged, cosine with torch 0.99999+, and it embeds a question ~3× and a batch
of chunks 1.1–1.7× faster than torch (`python -m bench.embedding_runtime`, `bench.ingest`)."""


class EmbeddingRuntimeSettings(BaseSettings):
    """The embedding runtime and where its ONNX exports are cached (None: under the data
    directory)."""

    model_config = SettingsConfigDict(
        env_prefix="LECTERN_EMBEDDING_", extra="ignore", validate_default=True,
        populate_by_name=True)

    runtime: EmbeddingRuntime = DEFAULT_RUNTIME
    cache_dir: Path | None = None

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets `field` (as `app.settings` names them)."""
        return "LECTERN_EMBEDDING_" + field.upper()

    def export_cache(self, data_dir: Path) -> Path:
        """Where ONNX exports live: the setting, else `<data_dir>/embedding-cache`."""
        return (self.cache_dir or data_dir / "embedding-cache").expanduser()
