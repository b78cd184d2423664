"""Settings: every `LECTERN_*` variable lands in its group's field, and bad values are
reported one line per variable, under the name the user set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError, WebSettings, load_settings, override
from ingest.embedding import DEFAULT_BATCH_SIZE
from ingest.types import Limits
from retrieval.search import SEARCH_TIMEOUT_MS


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `LECTERN_*` variable of the outer environment leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("LECTERN_"):
            monkeypatch.delenv(name)


def test_every_variable_sets_its_field(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "llm.toml"
    config.write_text("")
    values = {
        "LECTERN_DATABASE_URL": "postgresql://u@db/lectern", "LECTERN_DATA_DIR": "/srv/lectern",
        "LECTERN_HOST": "0.0.0.0", "LECTERN_PORT": "9000", "LECTERN_WEB_WORKERS": "3",
        "LECTERN_AUTH": "required",
        "LECTERN_CONFIG": str(config), "LECTERN_CACHE_PURGE_SECONDS": "60",
        "LECTERN_EMBEDDING_MODEL": "/models/e5", "LECTERN_EMBEDDING_BATCH_SIZE": "8",
        "LECTERN_EMBEDDING_THREADS": "2", "LECTERN_OCR_WORKERS": "4",
        "LECTERN_MAX_UPLOAD_BYTES": "1024", "LECTERN_MAX_PAGES": "7",
        "LECTERN_MAX_IMAGE_PIXELS": "1000", "LECTERN_WORKER_CONCURRENCY": "5",
        "LECTERN_JOB_LEASE_SECONDS": "12.5", "LECTERN_INPROCESS_WORKER": "false",
        "LECTERN_SEARCH_CONCURRENCY": "6", "LECTERN_SEARCH_TIMEOUT_MS": "250",
        "LECTERN_LOG_LEVEL": "debug",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    s = load_settings()
    assert (s.database.url, s.database.data_dir) == ("postgresql://u@db/lectern",
                                                     Path("/srv/lectern"))
    assert (s.web.host, s.web.port, s.web.workers) == ("0.0.0.0", 9000, 3)
    assert s.auth.mode == "required"
    assert (s.llm.config_file, s.llm.cache_purge_seconds) == (config, 60.0)
    assert (s.embedding.model, s.embedding.batch_size, s.embedding.threads) == ("/models/e5", 8, 2)
    assert (s.ingest.ocr_workers, s.ingest.max_upload_bytes, s.ingest.max_pages,
            s.ingest.max_image_pixels) == (4, 1024, 7, 1000)
    assert (s.workers.concurrency, s.workers.lease_seconds, s.workers.inprocess) == (5, 12.5,
                                                                                    False)
    assert (s.search.concurrency, s.search.timeout_ms) == (6, 250)
    assert s.log.level == "DEBUG"


def test_defaults_are_the_libraries_own() -> None:
    s = Settings()
    assert (s.ingest.max_upload_bytes, s.ingest.max_pages, s.ingest.max_image_pixels) == (
        Limits().max_bytes, Limits().max_pages, Limits().max_image_pixels)
    assert s.search.timeout_ms == SEARCH_TIMEOUT_MS
    assert s.embedding.batch_size == DEFAULT_BATCH_SIZE
    assert s.database.url is None and s.workers.inprocess


def test_bad_values_are_listed_one_line_per_variable_of_every_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = {"LECTERN_DATABASE_URL": "mysql://x", "LECTERN_DATA_DIR": "relative/dir",
           "LECTERN_PORT": "0", "LECTERN_WEB_WORKERS": "0", "LECTERN_CONFIG": "/no/such.toml",
           "LECTERN_EMBEDDING_THREADS": "-2", "LECTERN_OCR_WORKERS": "x",
           "LECTERN_JOB_LEASE_SECONDS": "0", "LECTERN_INPROCESS_WORKER": "maybe",
           "LECTERN_SEARCH_TIMEOUT_MS": "0", "LECTERN_LOG_LEVEL": "loud"}
    for name, value in bad.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).splitlines() == [
        "Invalid lectern settings:",
        "  LECTERN_DATABASE_URL='mysql://x': must be a PostgreSQL URL such as "
        "postgresql://user:password@host:5432/lectern",
        "  LECTERN_DATA_DIR='relative/dir': must be an absolute path",
        "  LECTERN_PORT='0': Input should be greater than or equal to 1",
        "  LECTERN_WEB_WORKERS='0': Input should be greater than 0",
        "  LECTERN_CONFIG='/no/such.toml': /no/such.toml does not exist or is not a file",
        "  LECTERN_EMBEDDING_THREADS='-2': Input should be greater than 0",
        "  LECTERN_OCR_WORKERS='x': Input should be a valid integer, unable to parse string as "
        "an integer",
        "  LECTERN_JOB_LEASE_SECONDS='0': Input should be greater than 0",
        "  LECTERN_INPROCESS_WORKER='maybe': Input should be a valid boolean, unable to "
        "interpret input",
        "  LECTERN_SEARCH_TIMEOUT_MS='0': Input should be greater than 0",
        "  LECTERN_LOG_LEVEL='LOUD': Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or "
        "'CRITICAL'",
    ]


def test_a_data_dir_under_root_is_refused_and_an_empty_url_means_embedded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LECTERN_DATABASE_URL", "  ")
    assert Settings().database.url is None
    monkeypatch.setenv("LECTERN_DATA_DIR", "/root/lectern")
    with pytest.raises(SettingsError, match=r"LECTERN_DATA_DIR='/root/lectern': .* under /root"):
        load_settings()


def test_override_replaces_the_given_fields_and_skips_unset_options() -> None:
    base = Settings(web=WebSettings(host="10.0.0.1", port=8100))
    changed = override(base, web={"port": 9100, "workers": None}, workers={"concurrency": 3})
    assert (changed.web.host, changed.web.port, changed.web.workers) == ("10.0.0.1", 9100, 1)
    assert changed.workers.concurrency == 3
    assert (base.web.port, base.workers.concurrency) == (8100, 2)
