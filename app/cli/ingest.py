"""`lectern ingest PATH...`: upload files through the HTTP API, optionally wait for them.

It is a plain HTTP client of a running server (the same API `curl` uses), so it works against
a remote lectern as well. Folders are walked recursively for the file types lectern reads;
files named explicitly are sent whatever their extension (the server decides by content).
With `--wait` each file gets a progress bar driven by its job's `pages_done/pages_total`.
The exit status is 1 if any upload or job failed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from app.client import default_url

INGESTIBLE_SUFFIXES = frozenset(
    {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".txt", ".md", ".markdown", ".docx",
     ".xlsx", ".pptx", ".odt", ".html", ".htm", ".eml"}
)
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "ready"})
URL_HELP = ("lectern server [default: LECTERN_URL, else http://LECTERN_HOST:LECTERN_PORT, "
            "as `lectern serve` listens]")
_BODY_CHARS = 200  # of a non-API error body, kept short: it is shown in the per-file summary

console = Console(stderr=True)


@dataclass
class Upload:
    """One file's upload and, once known, how its ingestion ended."""

    path: Path
    document_id: str | None = None
    job_id: str | None = None
    status: str = "pending"
    error: str | None = None
    pages: int | None = None
    task: TaskID | None = None
    misses: int = 0


def collect_files(paths: list[Path]) -> list[Path]:
    """Named files as given, folders walked recursively for ingestible suffixes; no repeats."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in INGESTIBLE_SUFFIXES
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    unique = dict.fromkeys(p.resolve() for p in found)
    return list(unique)


def describe_error(response: httpx.Response, *, text_chars: int = 300) -> str:
    """`code: message` of an API error response, or its status and the start of its body when
    it is not the API's error shape (a proxy's page, say); shared by the CLI clients."""
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:text_chars]}"


def upload(client: httpx.Client, item: Upload, collection: str | None) -> None:
    """POST one file; fill in its document/job ids or its error."""
    form = {"collection": collection} if collection else {}
    try:
        with item.path.open("rb") as handle:
            response = client.post(
                "/v1/documents", files={"file": (item.path.name, handle)}, data=form
            )
    except httpx.HTTPError as exc:
        item.status, item.error = "failed", f"upload failed: {exc}"
        return
    if response.status_code not in (200, 202):
        item.status, item.error = "failed", describe_error(response, text_chars=_BODY_CHARS)
        return
    body: dict[str, Any] = response.json()
    item.document_id = body["document"]["id"]
    item.job_id = body["job"]["id"] if body.get("job") else None
    item.status = body["job"]["status"] if body.get("job") else body["document"]["status"]
    item.pages = body["document"].get("page_count")
    if item.status == "failed":
        item.error = _error_text(body["document"].get("error"))


def _error_text(error: dict[str, Any] | None) -> str:
    if not error:
        return "failed"
    return f"{error.get('code', 'error')}: {error.get('message', '')}"


MAX_MISSES = 20
"""Consecutive failed polls (about 10 s) before a file is given up as lost."""


def poll(client: httpx.Client, item: Upload) -> tuple[int, int | None]:
    """Refresh one item's status; a server briefly unreachable is retried, not fatal."""
    try:
        return _poll(client, item)
    except httpx.HTTPError as exc:
        item.misses += 1
        if item.misses >= MAX_MISSES:
            item.status, item.error = "failed", f"lost contact with the server: {exc}"
        return 0, None


def _poll(client: httpx.Client, item: Upload) -> tuple[int, int | None]:
    if item.job_id is not None:
        response = client.get(f"/v1/jobs/{item.job_id}")
        item.misses = 0
        if response.status_code != 200:
            item.status, item.error = "failed", describe_error(response, text_chars=_BODY_CHARS)
            return 0, None
        job = response.json()
        item.status = job["status"]
        if item.status == "failed":
            item.error = _error_text(job.get("error"))
        return job["progress"]["pages_done"], job["progress"]["pages_total"]
    response = client.get(f"/v1/documents/{item.document_id}")
    item.misses = 0
    document = response.json() if response.status_code == 200 else {}
    item.status = document.get("status", "failed")
    if item.status == "failed":
        item.error = (_error_text(document.get("error")) if document
                      else describe_error(response, text_chars=_BODY_CHARS))
    pages = document.get("page_count") or 0
    return (pages if item.status == "ready" else 0), (pages or None)


def wait_all(client: httpx.Client, items: list[Upload], timeout_s: float) -> None:
    """Poll every unfinished item, one progress bar each, until all end or time runs out."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
    )
    deadline = time.monotonic() + timeout_s
    with Progress(*columns, console=console) as progress:
        for item in items:
            pages = item.pages if item.status in TERMINAL and item.pages else None
            item.task = progress.add_task(
                item.path.name, total=pages, completed=pages or 0, status=item.status
            )
        pending = [i for i in items if i.status not in TERMINAL]
        while pending and time.monotonic() < deadline:
            for item in pending:
                done, total = poll(client, item)
                assert item.task is not None
                if item.status in ("succeeded", "ready") and total is None:
                    total = done = 1
                progress.update(item.task, completed=done, total=total, status=item.status)
            pending = [i for i in pending if i.status not in TERMINAL]
            if pending:
                time.sleep(0.5)
        for item in pending:
            item.status, item.error = "failed", f"still {item.status} after {timeout_s:.0f}s"


def report(items: list[Upload]) -> int:
    """Print one line per file; return the process exit status."""
    failed = 0
    for item in items:
        if item.status == "failed":
            failed += 1
            console.print(f"[red]✗[/red] {item.path}  {item.error}")
        else:
            console.print(
                f"[green]✓[/green] {item.path}  {item.status}  document {item.document_id}"
            )
    return 1 if failed else 0


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders (walked recursively)")],
    collection: Annotated[str | None, typer.Option(help="collection to put them in")] = None,
    wait: Annotated[bool, typer.Option(help="wait for ingestion, with a progress bar")] = False,
    url: Annotated[str, typer.Option(envvar="LECTERN_URL", show_default=False, help=URL_HELP)] = "",
    api_key: Annotated[str | None, typer.Option(envvar="LECTERN_API_KEY", help="API key")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for all files")] = 1800.0,
) -> None:
    """Upload files through the HTTP API; with --wait, follow each job to its end."""
    url = url or default_url()
    files = collect_files(paths)
    if not files:
        console.print("no ingestible files found")
        raise typer.Exit(1)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    items = [Upload(path) for path in files]
    with httpx.Client(base_url=url, headers=headers, timeout=120.0) as client:
        for item in items:
            upload(client, item, collection)
        if wait:
            wait_all(client, items, timeout)
    raise typer.Exit(report(items))
