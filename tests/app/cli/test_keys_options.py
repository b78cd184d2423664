"""`lectern keys create --admin --rpm --tpm --expires-days`: what a key carries, set at
creation and shown by `keys list`; its own rate limit holds over HTTP."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.auth import list_keys
from app.container import Container


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, container: Container) -> typer.Typer:
    """The real `lectern` Typer app, on the test container's database."""
    main = importlib.import_module("app.cli.main")
    monkeypatch.setattr(main, "configure_logging", lambda level: None)
    monkeypatch.setenv("LECTERN_DATABASE_URL", container.database_url)
    app: typer.Typer = main.cli
    return app


def test_create_sets_admin_limits_and_expiry(cli: typer.Typer, container: Container,
                                             client: TestClient) -> None:
    result = CliRunner().invoke(cli, ["keys", "create", "--tenant", "acme", "--name", "ops",
                                      "--admin", "--rpm", "2", "--tpm", "500",
                                      "--expires-days", "3"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    with container.session_factory() as session:
        (info,) = list_keys(session, "acme")
    assert (info.name, info.is_admin, info.rpm, info.tpm) == ("ops", True, 2, 500)
    assert info.expires_at is not None
    assert timedelta(days=3) - (info.expires_at - datetime.now(UTC)) < timedelta(minutes=1)

    auth = {"Authorization": f"Bearer {key}"}
    codes = [client.get("/v1/documents", headers=auth).status_code for _ in range(3)]
    assert codes == [200, 200, 429]

    listed = CliRunner().invoke(cli, ["keys", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if info.prefix in line)
    assert "yes" in row and " 500 " in row and info.created_at.strftime("%Y-%m-%d") in row


def test_rpm_must_be_positive(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["keys", "create", "--tenant", "acme", "--rpm", "0"])
    assert result.exit_code == 2
