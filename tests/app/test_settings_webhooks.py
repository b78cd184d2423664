"""`LECTERN_WEBHOOK_*` read from the environment into the sender's policy and URL guard."""

from __future__ import annotations

import pytest

from app.settings import SettingsError, load_settings
from pipelines.webhooks import RetryPolicy, UrlGuard


def test_defaults_are_the_strict_guard_and_the_policy_defaults() -> None:
    hooks = load_settings().webhook
    assert hooks.url_guard() == UrlGuard() and hooks.policy() == RetryPolicy()
    assert (hooks.interval_seconds, hooks.timeout_seconds) == (1.0, 10.0)


def test_environment_sets_policy_timeout_and_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"INTERVAL_SECONDS": "0.5", "MAX_ATTEMPTS": "3", "TIMEOUT_SECONDS": "4",
                        "BACKOFF_INITIAL_SECONDS": "2", "BACKOFF_CAP_SECONDS": "60",
                        "ALLOW_PRIVATE": "true",
                        "ALLOWED_HOSTS": "hooks.internal, 10.0.0.0/8"}.items():
        monkeypatch.setenv(f"LECTERN_WEBHOOK_{name}", value)
    hooks = load_settings().webhook
    assert hooks.policy() == RetryPolicy(max_attempts=3, initial_s=2.0, cap_s=60.0)
    assert hooks.interval_seconds == 0.5 and hooks.timeout_seconds == 4.0
    assert hooks.url_guard() == UrlGuard(allow_private=True,
                                         allowed=("hooks.internal", "10.0.0.0/8"))


def test_a_cap_below_the_first_delay_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LECTERN_WEBHOOK_BACKOFF_INITIAL_SECONDS", "10")
    monkeypatch.setenv("LECTERN_WEBHOOK_BACKOFF_CAP_SECONDS", "5")
    with pytest.raises(SettingsError, match="LECTERN_WEBHOOK_BACKOFF_CAP_SECONDS"):
        load_settings()
