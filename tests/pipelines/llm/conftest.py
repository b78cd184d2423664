"""Fixtures for LLM-layer tests: a scripted OpenAI-protocol server on a loopback port.

Fixtures here are visible only under tests/llm. Other test directories either use the context
manager `tests.support.scripted_openai.scripted_openai_server`, or re-export both fixtures from
their own conftest.py:

    from tests.pipelines.llm.conftest import scripted_openai, scripted_openai_session  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai_server


@pytest.fixture(scope="session")
def scripted_openai_session() -> Iterator[ScriptedOpenAI]:
    """One server for the whole session (starting uvicorn per test would cost time)."""
    with scripted_openai_server() as server:
        yield server


@pytest.fixture
def scripted_openai(scripted_openai_session: ScriptedOpenAI) -> Iterator[ScriptedOpenAI]:
    """The shared server, with an empty script and no recorded requests for this test."""
    scripted_openai_session.reset()
    yield scripted_openai_session
    scripted_openai_session.reset()
