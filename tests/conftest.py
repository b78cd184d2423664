"""Root of the test suite: the process environment, and the shared fixtures registered once.

The environment is set before any test module imports transformers, sentence-transformers or
pytesseract. Fixtures used across directories live in `tests.support.fixtures` and are listed
in `pytest_plugins` (pytest reads it only here, in the root conftest); fixtures of one
directory stay in that directory's conftest.py.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["OMP_THREAD_LIMIT"] = "1"

pytest_plugins = [
    "tests.support.fixtures.database",
    "tests.support.fixtures.llm",
]
