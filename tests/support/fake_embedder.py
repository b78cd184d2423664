"""A deterministic tiny embedder for unit tests of code that needs an `Embedder` but not a model.

Vectors are hashed bags of words (feature hashing with a stable hash and a sign bit), so texts
sharing words are similar and unrelated texts are nearly orthogonal; results are identical
across processes and machines. Tokens are lower-cased words; `count_tokens` adds two for the
[CLS]/[SEP] pair, like the real model, so chunk-size arithmetic behaves the same way.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

_TOKEN = re.compile(r"\w+|[^\w\s]")


class HashEmbedder:
    """An `Embedder` whose vectors come from hashed tokens; fast, deterministic, model-free."""

    def __init__(self, dimension: int = 384, max_tokens: int = 256) -> None:
        self._dimension = dimension
        self._max_tokens = max_tokens
        self.calls: list[list[str]] = []  # every batch `embed` was asked for, for assertions

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """The pretend model window, special tokens included."""
        return self._max_tokens

    def tokens(self, text: str) -> list[str]:
        """Lower-cased words and punctuation marks, the units `count_tokens` counts."""
        return _TOKEN.findall(text.lower())

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` plus two special tokens, like a BERT tokenizer."""
        return len(self.tokens(text)) + 2

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text (the first axis for a text without words)."""
        self.calls.append(list(texts))
        return [self._vector(text) for text in texts]

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self._dimension
        for token in self.tokens(text)[: self._max_tokens - 2]:
            if not token[0].isalnum():
                continue  # punctuation carries no meaning here
            digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
            value = int.from_bytes(digest, "big")
            vector[value % self._dimension] += 1.0 if (value >> 32) & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:
            vector[0] = 1.0
            return vector
        return [x / norm for x in vector]
