"""The `lectern` command line: `serve`, `worker`, `ingest`, `db upgrade`, `keys ...`.

Each command area lives in its own module (`app.cli.ingest`, and later `ask`/`extract`) and is
registered on the Typer app here. Commands that need the database or models build them
through the composition root (`app.container.build_container`); `ingest` is a plain HTTP
client of a running server.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from app.cli import ask as cli_ask
from app.cli import evals as cli_evals
from app.cli import extract as cli_extract
from app.cli import ingest as cli_ingest
from app.cli import mcp as cli_mcp
from app.cli import prompts as cli_prompts
from app.logs import configure_logging

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from app.container import Container
    from app.settings import Settings

# Commands import the server side (settings, database, torch, uvicorn) when they run, so that
# the HTTP-client commands (`ingest`, `ask`, `extract`) start in a fraction of a second.

cli = typer.Typer(name="lectern", no_args_is_help=True, add_completion=False)
db_cli = typer.Typer(no_args_is_help=True, help="Database schema.")
keys_cli = typer.Typer(no_args_is_help=True, help="API keys (stored hashed).")
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(cli_prompts.prompts_cli, name="prompts")
cli.command("ingest")(cli_ingest.ingest)
cli.command("ask")(cli_ask.ask)
cli.command("extract")(cli_extract.extract)
cli.command("eval")(cli_evals.eval_command)
cli.command("mcp")(cli_mcp.mcp)

log = logging.getLogger("lectern.cli")
out = Console()
err = Console(stderr=True)


def _settings(**overrides: Mapping[str, object]) -> Settings:
    """Load settings (exit 2 with the list of bad variables), apply the command line's
    `overrides` (per group, see `app.settings.override`) and configure logging."""
    from app.settings import SettingsError, load_settings, override

    try:
        settings = load_settings()
    except SettingsError as exc:
        err.print(str(exc), markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    settings = override(settings, **overrides)
    configure_logging(settings.log.level)
    return settings


def _container(settings: Settings, *, migrate: bool = False, with_ocr: bool = True) -> Container:
    """`build_container`, but a database that cannot be set up exits 1 and a setting that the
    loaded parts refuse (an embedding model of the wrong dimension) exits 2, each with its
    message rather than a traceback."""
    from app.container import build_container
    from app.db.engine import DatabaseSetupError
    from app.settings import SettingsError

    try:
        return build_container(settings, migrate=migrate, with_ocr=with_ocr)
    except DatabaseSetupError as exc:
        err.print(f"[red]database:[/red] {exc}")
        raise typer.Exit(1) from None
    except SettingsError as exc:
        err.print(str(exc), markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address [env LECTERN_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="port [env LECTERN_PORT]")] = None,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", " /--no-workers",
                           help="run in-process ingestion workers, the answer-cache purge and "
                           "the webhook sender; --no-workers: an API-only process beside "
                           "`lectern worker` processes [env LECTERN_INPROCESS_WORKER]")
    ] = True,
    web_workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="HTTP worker processes [env LECTERN_WEB_WORKERS]"),
    ] = None,
) -> None:
    """Migrate the database, start in-process workers, and serve the HTTP API."""
    settings = _settings(web={"host": host, "port": port, "workers": web_workers})
    inprocess = worker and settings.workers.inprocess
    if not inprocess:
        log.info("no in-process workers: uploads wait for `lectern worker` processes")
    if settings.web.workers > 1:  # before anything imports prometheus_client: see web_workers
        _serve_workers(settings, inprocess)
        return

    import uvicorn

    from app.main import create_app
    from app.serving.http_server import uvicorn_config
    from app.serving.ingestion_threads import start_inprocess

    container = _container(settings, migrate=True, with_ocr=inprocess)
    workers = start_inprocess(container) if inprocess else None
    try:
        config = uvicorn_config(create_app(container), settings.web)
        _finish_after_stop_signals()
        _reload_prompts_on_sighup(container)
        uvicorn.Server(config).run()
    finally:
        if workers is not None:
            log.info("stopping in-process workers")
            workers.stop()
        container.close()


def _serve_workers(settings: Settings, inprocess: bool) -> None:
    """`serve` with several HTTP worker processes (`app.serving.http_workers`); exits non-zero
    on error."""
    from app.db.engine import DatabaseSetupError
    from app.serving.http_workers import serve_workers

    try:
        status = serve_workers(settings, inprocess=inprocess)
    except DatabaseSetupError as exc:
        err.print(f"[red]database:[/red] {exc}")
        raise typer.Exit(1) from None
    if status:
        raise typer.Exit(status)


def _reload_prompts_on_sighup(container: Container) -> None:
    """SIGHUP re-reads the LLM config's prompt variants at once (they are re-read on their own
    within seconds of the file changing, too). With `--workers N`, uvicorn's supervisor owns
    SIGHUP and restarts the workers, which read the config anew."""
    reload = getattr(container.prompts.variants, "reload", None)
    if reload is None or not hasattr(signal, "SIGHUP"):
        return

    def _on_hup(signum: int, frame: FrameType | None) -> None:
        log.info("received SIGHUP; re-reading the LLM config's prompt variants")
        threading.Thread(target=reload, name="prompt-variants-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, _on_hup)


def _finish_after_stop_signals() -> None:
    """Let `serve` clean up after SIGTERM/SIGINT instead of dying on uvicorn's re-raise.

    uvicorn handles the signal, shuts down, restores the previous handlers and raises the
    signal again; with Python's defaults that kills the process (SIGTERM) or throws
    KeyboardInterrupt (SIGINT) before workers release their jobs. These handlers only log, so
    `serve` stops its workers, closes the container and exits 0.
    """

    def _log_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s; finishing shutdown", signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, _log_signal)
    signal.signal(signal.SIGINT, _log_signal)


@cli.command("worker")
def worker_command(
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="jobs at once [env LECTERN_WORKER_CONCURRENCY]")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="serve this process's /metrics on "
                                 "LECTERN_HOST:PORT [env LECTERN_WORKER_METRICS_PORT]")
    ] = None,
) -> None:
    """Run ingestion workers, the answer-cache purge, the webhook sender and the extraction
    workers until SIGTERM or SIGINT (finishing or releasing current jobs): everything
    `serve --no-workers` leaves out."""
    from app.serving.ingestion_threads import run_workers
    from app.serving.worker_metrics import serve_worker_metrics

    settings = _settings(workers={"concurrency": concurrency, "metrics_port": metrics_port})
    container = _container(settings)
    port = settings.workers.metrics_port
    exporter = serve_worker_metrics(container, settings.web.host, port) if port else None
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        run_workers(container, stop)
    finally:
        if exporter is not None:
            exporter.stop()
        container.close()


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Apply the schema migrations (starting the embedded server if no URL is set)."""
    from app.container import start_database
    from app.db.engine import upgrade

    settings = _settings()
    url, database = start_database(settings)
    try:
        upgrade(url, revision)
    finally:
        if database is not None:
            database.close()
    out.print(f"database at {revision}")


@keys_cli.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="tenant the key acts for")],
    name: Annotated[str, typer.Option(help="a label to recognise it by")] = "",
    admin: Annotated[bool, typer.Option(help="may manage keys over /v1/keys")] = False,
    rpm: Annotated[int | None, typer.Option(min=1, help="requests per minute [default: "
                                            "LECTERN_RATE_KEY_RPM]")] = None,
    tpm: Annotated[int | None, typer.Option(min=1, help="LLM tokens per minute [default: "
                                            "LECTERN_RATE_KEY_TPM]")] = None,
    expires_days: Annotated[int | None, typer.Option(min=1, help="expire after this many "
                                                     "days [default: never]")] = None,
) -> None:
    """Create an API key and print it once (only its hash is stored), saying first what it
    changes: the first key makes keys required, and the documents of tenant `default` stay
    out of sight of another tenant's key."""
    from datetime import UTC, datetime, timedelta

    from app.auth import create_key
    from app.cli.keys import key_session, new_key_notes

    expires_at = (datetime.now(UTC) + timedelta(days=expires_days)) if expires_days else None
    with key_session(_settings()) as session:
        notes = new_key_notes(session, tenant)
        key = create_key(session, tenant, name, admin=admin, rpm=rpm, tpm=tpm,
                         expires_at=expires_at)
    out.print(key, soft_wrap=True)
    for note in notes:
        err.print(note, markup=False, soft_wrap=True)
    err.print(f"key for tenant {tenant!r} created; it will not be shown again")


@keys_cli.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="the key, or its displayed prefix")],
) -> None:
    """Revoke a key; requests with it get 401 from now on."""
    from app.auth import revoke
    from app.cli.keys import key_session

    with key_session(_settings()) as session:
        count = revoke(session, key)
    if not count:
        err.print("no such unrevoked key")
        raise typer.Exit(1)
    out.print(f"revoked {count} key(s)")


@keys_cli.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="only this tenant's keys")] = None,
) -> None:
    """List keys by prefix, tenant, name and state (never the keys themselves)."""
    from app.auth import list_keys
    from app.cli.keys import key_session

    def when(moment: datetime | None) -> str:
        return moment.isoformat(timespec="seconds") if moment else ""

    table = Table("tenant", "name", "admin", "rpm", "tpm", "created", "last used", "expires",
                  "revoked")
    table.columns.insert(0, Column("prefix", no_wrap=True, min_width=11))  # never cut short
    with key_session(_settings()) as session:
        for info in list_keys(session, tenant):
            table.add_row(info.prefix, info.tenant_id, info.name, "yes" if info.is_admin else "",
                          str(info.rpm or ""), str(info.tpm or ""), when(info.created_at),
                          when(info.last_used_at), when(info.expires_at), when(info.revoked_at))
    out.print(table)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
