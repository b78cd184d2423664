"""`GET /v1/alerts` and `/v1/usage`'s prompt grouping, over ledger rows in the app's database
(auth is off, so requests act for the tenant `default`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.container import Container
from tests.support.ledger_rows import write_calls

RECENT = timedelta(minutes=10)
BASELINE = timedelta(hours=3)


def _fallback_jump(container: Container, tenant: str) -> None:
    write_calls(container.engine, tenant, age=BASELINE, outcomes={"ok": 38, "fallback": 2})
    write_calls(container.engine, tenant, age=RECENT, outcomes={"ok": 15, "fallback": 10})


def test_alerts_list_a_fallback_jump_with_both_windows(client: TestClient,
                                                       container: Container) -> None:
    _fallback_jump(container, "default")
    response = client.get("/v1/alerts")
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"] == "default" and body["windows"]["min_calls"] == 20
    [alert] = body["alerts"]
    assert (alert["task"], alert["model"], alert["prompt_version"], alert["metric"]) == (
        "answer", "m", "answer@v1", "fallback_rate")
    assert alert["recent"] == {"value": pytest.approx(0.4), "calls": 25}
    assert alert["baseline"] == {"value": pytest.approx(0.05), "calls": 40}


def test_alerts_of_another_tenant_are_not_shown(client: TestClient,
                                                container: Container) -> None:
    _fallback_jump(container, "someone-else")
    assert client.get("/v1/alerts").json()["alerts"] == []


def test_a_few_calls_never_alert(client: TestClient, container: Container) -> None:
    write_calls(container.engine, "default", age=BASELINE, outcomes={"ok": 40})
    write_calls(container.engine, "default", age=RECENT, outcomes={"error": 5})
    assert client.get("/v1/alerts").json()["alerts"] == []


def test_usage_groups_by_prompt_version_and_task(client: TestClient,
                                                 container: Container) -> None:
    minute = timedelta(minutes=1)
    write_calls(container.engine, "default", age=minute, outcomes={"ok": 3, "fallback": 1})
    write_calls(container.engine, "default", age=minute, outcomes={"ok": 2},
                prompt_version="answer@v2", output_tokens=7)
    write_calls(container.engine, "default", age=minute, outcomes={"error": 1},
                task="extract", prompt_version="extract@v1")
    body = client.get("/v1/usage", params={"since": "2000-01-01"}).json()
    groups = {(g["task"], g["prompt_version"]): g for g in body["by_prompt"]}
    assert set(groups) == {("answer", "answer@v1"), ("answer", "answer@v2"),
                           ("extract", "extract@v1")}
    v1, v2 = groups["answer", "answer@v1"], groups["answer", "answer@v2"]
    assert (v1["calls"], v1["fallbacks"], v1["errors"]) == (4, 1, 0)
    assert (v2["calls"], v2["output_tokens"], v2["cost_usd"]) == (2, 14, pytest.approx(0.002))
    assert groups["extract", "extract@v1"]["errors"] == 1
    assert {t["task"]: t["calls"] for t in body["by_task"]} == {"answer": 6, "extract": 1}
