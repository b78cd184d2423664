"""An `Embedder` that runs the exported ONNX graph of the same model with ONNX Runtime.

The graph is exported once per model and runtime into a cache directory (`ingest.onnx_export`)
and loaded from there on later starts; this process needs neither torch nor
sentence-transformers after that. Tokenisation uses the model's own fast tokenizer
(`tokenizer.json`) with the model's window, and texts are batched longest first, as
sentence-transformers batches them, so a batch carries little padding. The graph already pools
and normalises, so `embed` returns unit vectors like `SentenceTransformerEmbedder`'s.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingest.embedding import (
    DEFAULT_BATCH_SIZE,
    EmbedderUnavailable,
    LocalEmbedder,
    available_cores,
)
from ingest.embedding_space import space_of
from ingest.onnx_export import ensure_export, read_export


class OnnxEmbedder(LocalEmbedder):
    """An `Embedder` backed by ONNX Runtime (`runtime` "onnx": fp32, or "onnx-int8").

    `model` is the sentence-transformers directory the export is made from; `cache_dir` holds
    the exports. ONNX Runtime uses `threads` intra-op threads (default: every core this
    process may use). `embed` calls are serialised (one already uses every core);
    `count_tokens` runs concurrently on its own tokenizer copy.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        runtime: str = "onnx",
        cache_dir: Path,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
    ) -> None:
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.model_name = str(model)
        self.runtime = runtime
        self.batch_size = batch_size
        directory = ensure_export(cache_dir, Path(model), runtime)
        meta = read_export(directory)
        if meta is None or not meta.get("dimension") or not meta.get("max_tokens"):
            raise EmbedderUnavailable(f"the export in {directory} is incomplete",
                                      model=self.model_name)
        self.export_dir = directory
        self._dimension = int(meta["dimension"])
        self._max_tokens = int(meta["max_tokens"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        # Idle intra-op threads sleep instead of spinning: spinning kept the cores busy after
        # each question while PostgreSQL ran its search (retrieval p50 59 ms vs 35 ms).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session: Any = ort.InferenceSession(
                str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"])
            self._tokenizer: Any = Tokenizer.from_file(str(directory / "tokenizer.json"))
        except Exception as exc:
            raise EmbedderUnavailable(
                f"cannot load the {runtime} export in {directory}: {type(exc).__name__}: {exc}",
                model=self.model_name) from exc
        self._tokenizer.enable_truncation(self._max_tokens)
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=meta["pad_token"])
        self._counter: Any = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._np = np
        self._lock = threading.Lock()
        self.space = space_of(model, runtime)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, computed in batches of `batch_size`."""
        if not texts:
            return []
        np = self._np
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                encodings = self._tokenizer.encode_batch([texts[i] for i in batch])
                feeds = {
                    "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in encodings],
                                               dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
                }
                vectors[batch] = self._session.run(None, feeds)[0]
        result: list[list[float]] = vectors.tolist()
        return result
