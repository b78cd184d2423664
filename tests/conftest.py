"""Root of the test suite: the process environment, and the shared fixtures registered once.

The environment is set before any test module imports transformers, sentence-transformers or
pytesseract. Fixtures used across directories live in `tests.support.fixtures` and are listed
in `pytest_plugins` (pytest reads it only here, in the root conftest); fixtures of one
directory stay in that directory's conftest.py.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["OMP_THREAD_LIMIT"] = "1"
# One ONNX export of the bundled model for every test and child server on the machine: the
# default runtime exports it at the first start, which would otherwise repeat per data dir.
EMBEDDING_CACHE = Path(tempfile.gettempdir()) / "lectern-test-embedding-cache"
os.environ.setdefault("LECTERN_EMBEDDING_CACHE_DIR", str(EMBEDDING_CACHE))

pytest_plugins = [
    "tests.support.fixtures.database",
    "tests.support.fixtures.llm",
]
