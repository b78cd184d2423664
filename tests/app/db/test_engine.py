"""The database foundation on real PostgreSQL: embedded server life cycle, migrations, pgvector."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.container import start_database
from app.db.embedded import EmbeddedDatabase
from app.db.engine import (
    DatabaseSetupError,
    PgvectorMissingError,
    alembic_config,
    check_pgvector,
    current_revision,
    downgrade,
    make_engine,
    upgrade,
)
from app.settings import DatabaseSettings, Settings

REPO = Path(__file__).resolve().parents[3]
OWNER = """
import sys, time
from pathlib import Path
from app.db.embedded import EmbeddedDatabase
database = EmbeddedDatabase(Path(sys.argv[1]))
database.start()
print(database.pid, flush=True)
time.sleep(float(sys.argv[2]))
"""


def _owner(data_dir: Path, seconds: float) -> subprocess.Popen[str]:
    """Start another process that owns the embedded server in ``data_dir`` for ``seconds``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", OWNER, str(data_dir), str(seconds)]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)


def _handle_pids(data_dir: Path) -> list[int]:
    return list(json.loads((data_dir / "pg" / ".handle_pids.json").read_text()))


def _running(pid: int) -> bool:
    return bool(psutil.pid_exists(pid))


def _stops(pid: int, timeout: float = 30) -> bool:
    """Wait for ``pid`` to exit: ``pg_ctl stop -w`` returns just before the postmaster does."""
    deadline = time.monotonic() + timeout
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _running(pid)


@pytest.fixture(scope="module")
def scratch_dir() -> Iterator[Path]:
    """A data directory of its own (initdb once per module), outside /root and the repo."""
    path = Path(tempfile.mkdtemp(prefix="lectern-pgtest-", dir="/tmp"))
    yield path
    pid_file = path / "pg" / "postmaster.pid"
    if pid_file.exists():  # a failed test left the server up: fast shutdown
        pid = int(pid_file.read_text().split()[0])
        if _running(pid):
            os.kill(pid, signal.SIGINT)
            psutil.wait_procs([psutil.Process(pid)], timeout=30)
    shutil.rmtree(path, ignore_errors=True)


def _schema(url: str) -> dict[str, set[str]]:
    """Table name -> column and index names, to compare schemas."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        return {
            table: {c["name"] for c in inspector.get_columns(table)}
            | {f"index:{i['name']}" for i in inspector.get_indexes(table)}
            for table in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def test_second_handle_in_process_reuses_server_and_last_close_stops_it(
    scratch_dir: Path,
) -> None:
    first, second = EmbeddedDatabase(scratch_dir), EmbeddedDatabase(scratch_dir)
    try:
        url = first.start()
        assert second.start() == url
        assert first.pid == second.pid
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT current_database()")) == "lectern"
        engine.dispose()
        second.close()
        assert _running(first.pid)
        pid = first.pid
    finally:
        second.close()
        first.close()
    assert _stops(pid)
    assert not (scratch_dir / "pg" / "postmaster.pid").exists()


def test_another_process_reuses_the_running_server(scratch_dir: Path) -> None:
    database = EmbeddedDatabase(scratch_dir)
    try:
        database.start()
        other = _owner(scratch_dir, 0)
        out, _ = other.communicate(timeout=120)
        assert other.returncode == 0
        assert int(out) == database.pid
        assert _running(database.pid), "the other owner's exit stopped a server still in use"
        assert _handle_pids(scratch_dir) == [os.getpid()]
    finally:
        database.close()


def test_sigkilled_owner_neither_blocks_reuse_nor_keeps_server_alive(scratch_dir: Path) -> None:
    other = _owner(scratch_dir, 600)
    assert other.stdout is not None
    postmaster = int(other.stdout.readline())
    other.send_signal(signal.SIGKILL)
    other.wait()
    assert other.pid in _handle_pids(scratch_dir)
    assert _running(postmaster), "the postmaster outlives its SIGKILLed owner"

    database = EmbeddedDatabase(scratch_dir)
    try:
        database.start()
        assert database.pid == postmaster
        assert _handle_pids(scratch_dir) == [os.getpid()]
    finally:
        database.close()
    assert _stops(postmaster)


@pytest.mark.parametrize(
    "handles",
    ["[12", json.dumps([os.getppid(), 999_999_999])],
    ids=["truncated-json", "live-pid-but-no-server"],
)
def test_stale_postmaster_pid_and_handle_list_are_cleaned(scratch_dir: Path, handles: str) -> None:
    database = EmbeddedDatabase(scratch_dir)
    database.start()
    database.close()
    pgdata = scratch_dir / "pg"
    # A recycled pid: a live process that is not postgres, as after a reboot or a SIGKILL.
    fields = [str(os.getpid()), str(pgdata), "0", "5432", str(pgdata), "", "0 0", "ready"]
    (pgdata / "postmaster.pid").write_text("\n".join(fields) + "\n")
    (pgdata / ".handle_pids.json").write_text(handles)
    try:
        database.start()
        assert database.pid != os.getpid()
        assert _handle_pids(scratch_dir) == [os.getpid()]
        pid = database.pid
    finally:
        database.close()
    assert _stops(pid)


def test_data_dir_under_root_or_in_repo_is_refused() -> None:
    for forbidden in (Path("/root/lectern"), REPO / "data"):
        with pytest.raises(DatabaseSetupError):
            EmbeddedDatabase(forbidden)
        with pytest.raises(ValueError, match=r"under /root|inside the source checkout"):
            DatabaseSettings(data_dir=forbidden)


def test_user_supplied_url_is_normalised_to_psycopg() -> None:
    settings = Settings(database=DatabaseSettings(url="postgres://u:secret@dbhost:5432/lectern"))
    assert start_database(settings) == ("postgresql+psycopg://u:secret@dbhost:5432/lectern", None)


def test_migrations_round_trip_head_base_head(fresh_database_url: Callable[[], str]) -> None:
    url = fresh_database_url()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    assert current_revision(url) == head
    migrated = _schema(url)
    assert "documents" in migrated

    downgrade(url, "base")
    assert current_revision(url) is None
    assert set(_schema(url)) <= {"alembic_version"}

    upgrade(url)
    assert current_revision(url) == head
    assert _schema(url) == migrated


def test_concurrent_upgrades_wait_for_each_other(
    fresh_database_url: Callable[..., str],
) -> None:
    url = fresh_database_url(migrated=False)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(upgrade, url) for _ in range(2)]:
            future.result()
    assert current_revision(url) is not None


def test_pgvector_and_pg_trgm_are_installed(engine: Engine) -> None:
    assert check_pgvector(engine).startswith("0.8")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT extname, extversion FROM pg_extension")).all()
    installed = {name: version for name, version in rows}
    assert installed["vector"].startswith("0.8")
    assert "pg_trgm" in installed


def test_check_pgvector_explains_a_database_without_it(
    fresh_database_url: Callable[..., str],
) -> None:
    engine = make_engine(fresh_database_url(migrated=False))
    try:
        with pytest.raises(PgvectorMissingError, match="CREATE EXTENSION"):
            check_pgvector(engine)
    finally:
        engine.dispose()


def test_db_session_commits_stay_invisible_to_other_connections(
    db_session: Session, engine: Engine
) -> None:
    db_session.execute(sa.text("CREATE TABLE scratch_rollback_probe (x int)"))
    db_session.commit()
    assert db_session.scalar(sa.text("SELECT count(*) FROM scratch_rollback_probe")) == 0
    with engine.connect() as other:
        visible = other.scalar(sa.text("SELECT to_regclass('scratch_rollback_probe')"))
    assert visible is None
