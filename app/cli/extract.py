"""`lectern extract --schema invoice scan.pdf`: structured data from a document, as JSON.

A plain HTTP client of a running server, like `lectern ingest`: the file is uploaded through
`POST /v1/documents` (the server deduplicates identical bytes, so running it twice does not
ingest twice), its ingestion job is followed until it ends, then `POST /v1/extract` runs
with the document id. SOURCE may also be the id of a document already stored. `--schema` is
a schema name (`GET /v1/schemas`) or the path of a JSON file holding a JSON Schema. The
result is printed to stdout as JSON; progress and errors go to stderr (exit status 1).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from app.cli.ingest import URL_HELP, describe_error
from app.client import default_url

console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


def _schema(value: str) -> str | dict[str, Any]:
    """A schema name, or the JSON Schema held in the file `value`."""
    path = Path(value)
    if not path.is_file():
        return value
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(f"{path}: not a readable JSON file ({exc})") from None
    return loaded


def upload_and_wait(client: httpx.Client, path: Path, collection: str | None,
                    timeout_s: float) -> str:
    """Upload `path`, follow its ingestion to the end; the document id (exit 1 on failure)."""
    with path.open("rb") as handle:
        response = client.post("/v1/documents", files={"file": (path.name, handle)},
                               data={"collection": collection} if collection else {})
    if response.status_code not in (200, 202):
        raise _fail(f"upload of {path} failed: {describe_error(response)}")
    body = response.json()
    document_id: str = body["document"]["id"]
    job = body.get("job")
    deadline = time.monotonic() + timeout_s
    last = ""
    while job is not None and job["status"] not in ("succeeded", "failed", "cancelled"):
        if time.monotonic() > deadline:
            raise _fail(f"ingestion still {job['status']} after {timeout_s:.0f}s "
                        f"(document {document_id}; extract it later by id)")
        time.sleep(0.5)
        reply = client.get(f"/v1/jobs/{job['id']}")
        if reply.status_code != 200:
            raise _fail(f"following job {job['id']}: {describe_error(reply)}")
        job = reply.json()
        state = f"{job['status']} {job.get('stage') or ''}".strip()
        if state != last:
            console.print(f"{path.name}: {state}")
            last = state
    if job is not None and job["status"] == "failed":
        raise _fail(f"ingestion of {path} failed: {job.get('error')}")
    return document_id


def extract(
    source: Annotated[str, typer.Argument(help="a file to upload, or a stored document's id")],
    schema: Annotated[str, typer.Option(help="schema name (receipt, invoice) or a JSON "
                                        "Schema file")],
    url: Annotated[str, typer.Option(envvar="LECTERN_URL", show_default=False, help=URL_HELP)] = "",
    api_key: Annotated[str | None, typer.Option(envvar="LECTERN_API_KEY", help="API key")] = None,
    collection: Annotated[str | None, typer.Option(help="collection for the upload")] = None,
    max_attempts: Annotated[int, typer.Option(min=1, max=10, help="LLM attempts")] = 3,
    accept_invalid: Annotated[bool, typer.Option(help="print output that never validated "
                                                 "(valid: false) instead of failing")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for ingestion")] = 1800.0,
) -> None:
    """Extract structured data from a file or stored document and print it as JSON."""
    url = url or default_url()
    target = _schema(schema)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    path = Path(source)
    with httpx.Client(base_url=url, headers=headers, timeout=600.0) as client:
        try:
            if path.is_file():
                document_id = upload_and_wait(client, path, collection, timeout)
            else:
                try:
                    document_id = str(uuid.UUID(source))
                except ValueError:
                    raise _fail(f"{source} is neither a file nor a document id") from None
            response = client.post("/v1/extract", json={
                "schema": target, "document_id": document_id, "max_attempts": max_attempts,
                "accept_invalid": accept_invalid})
        except httpx.HTTPError as exc:
            raise _fail(f"cannot reach {url}: {exc}") from None
    if response.status_code != 200:
        details = response.json().get("error", {}).get("details", {}) if (
            response.headers.get("content-type", "").startswith("application/json")) else {}
        if details.get("errors"):
            console.print_json(data=details["errors"])
        raise _fail(describe_error(response))
    typer.echo(json.dumps(response.json(), indent=2, ensure_ascii=False))
