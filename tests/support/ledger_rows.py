"""Ledger rows at chosen ages, written through `Ledger.insert` on the real database, for the
drift and usage tests (the ledger stamps `created_at` itself; these rows are then moved back)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import Engine

from pipelines.llm.ledger import CallRecord, Ledger, Outcome
from pipelines.llm.storage import LLMCall


def write_calls(engine: Engine, tenant: str, *, age: timedelta, outcomes: dict[Outcome, int],
                prompt_version: str = "answer@v1", model: str = "m", task: str = "answer",
                output_tokens: int = 50) -> None:
    """Write `outcomes[o]` calls of each outcome, all `age` old (by the database's clock)."""
    batch = "batch-" + uuid.uuid4().hex
    with engine.begin() as conn:
        for outcome, count in outcomes.items():
            for _ in range(count):
                Ledger.insert(conn, CallRecord(
                    request_id=batch, tenant=tenant, task=task, provider="p", model=model,
                    tier="mid", prompt_version=prompt_version, outcome=outcome,
                    input_tokens=100, output_tokens=output_tokens, cost_usd=0.001))
        conn.execute(sa.update(LLMCall).where(LLMCall.request_id == batch)
                     .values(created_at=sa.func.now() - age))
