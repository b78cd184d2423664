"""`LECTERN_AUTH`: `off`, `required` or unset, and what each means for a request and at
start-up (real database; the app in-process)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.auth import create_key, revoke
from app.container import Container, build_container
from app.db.engine import make_engine, session_factory
from app.settings import AuthSettings, Settings, SettingsError, load_settings, override
from tests.support.fake_embedder import HashEmbedder


def _set_mode(container: Container, mode: str | None) -> None:
    container.settings = override(container.settings, auth={"mode": mode})


def _create_key(url: str, tenant: str, *, revoked: bool = False) -> None:
    """A key of `tenant` in the database at `url`, revoked at once if asked."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            key = create_key(session, tenant)
            if revoked:
                revoke(session, key)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("value", "mode"), [("off", "off"), (" Required ", "required"), ("", None), (None, None)]
)
def test_lectern_auth_is_off_required_or_unset(
    monkeypatch: pytest.MonkeyPatch, value: str | None, mode: str | None
) -> None:
    for name in [name for name in os.environ if name.startswith("LECTERN_")]:
        monkeypatch.delenv(name)
    if value is not None:
        monkeypatch.setenv("LECTERN_AUTH", value)
    assert load_settings().auth.mode == mode


def test_another_lectern_auth_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LECTERN_AUTH", "open")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "  LECTERN_AUTH='open': Input should be 'off' or 'required'" in str(caught.value)


def test_required_refuses_anonymous_requests_before_any_key_exists(
    client: TestClient, container: Container
) -> None:
    _set_mode(container, "required")
    response = client.get("/v1/documents")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert client.get("/healthz").status_code == 200, "health needs no key"

    with container.session_factory() as session:
        key = create_key(session, "acme")
    ok = client.get("/v1/documents", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200


def test_off_serves_everyone_as_default_until_a_key_is_created_then_closes(
    client: TestClient, container: Container
) -> None:
    _set_mode(container, "off")
    assert client.get("/v1/documents").status_code == 200

    with container.session_factory() as session:
        revoke(session, create_key(session, "acme"))
    response = client.get("/v1/documents")
    assert response.status_code == 401, "a key created while `off` runs closes it all the same"


def test_off_is_refused_at_start_up_once_keys_have_been_created(
    fresh_database_url: Callable[..., str],
) -> None:
    url = fresh_database_url()
    settings = Settings(auth=AuthSettings(mode="off"))
    build_container(settings, database_url=url, with_ocr=False, embedder=HashEmbedder()).close()

    _create_key(url, "acme", revoked=True)

    with pytest.raises(SettingsError) as caught:
        build_container(settings, database_url=url, with_ocr=False, embedder=HashEmbedder())
    message = str(caught.value)
    assert message.startswith("LECTERN_AUTH=off, but 1 API key(s) have been created")
    assert "Unset LECTERN_AUTH" in message and "LECTERN_AUTH=required" in message


def test_the_commands_refuse_off_with_keys_in_one_message(
    monkeypatch: pytest.MonkeyPatch, fresh_database_url: Callable[..., str]
) -> None:
    url = fresh_database_url()
    _create_key(url, "acme")
    cli_module = importlib.import_module("app.cli.main")  # `app.cli.main` is the entry point
    monkeypatch.setattr(cli_module, "configure_logging", lambda level: None)
    monkeypatch.setenv("LECTERN_DATABASE_URL", url)
    monkeypatch.setenv("LECTERN_AUTH", "off")

    result = CliRunner().invoke(cli_module.cli, ["worker"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("LECTERN_AUTH=off, but 1 API key(s) have been created")
    assert "Traceback" not in result.output
