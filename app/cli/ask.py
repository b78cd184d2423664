"""`lectern ask "question"`: stream an answer to the terminal, then list its sources.

A plain HTTP client of a running server (like `lectern ingest`), reading `POST /v1/ask` as
server-sent events with httpx-sse: tokens are written to stdout as they arrive, then the
numbered sources with file, pages and section, then (on stderr) who answered and what it
cost. The exit status is 1 when the server refuses the question or the answer breaks off.
`--conversation new` starts a stored conversation and `--conversation ID` asks a follow-up in
one (the server condenses it with the earlier turns); the id is printed on stderr to pass next.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import httpx
import typer
from httpx_sse import SSEError
from rich.console import Console
from rich.markup import escape

from app.cli.ingest import URL_HELP, describe_error
from app.client import ClientError, Lectern, default_url

console = Console(stderr=True)


def _pages(source: dict[str, Any]) -> str:
    start, end = source.get("page_start"), source.get("page_end")
    return f"p. {start}" if start == end else f"pp. {start}–{end}"


def print_sources(sources: list[dict[str, Any]]) -> None:
    """One line per numbered source: `[n] file, pages — section (score)`."""
    for s in sources:
        section = f" — {s['section']}" if s.get("section") else ""
        print(f"[{s['n']}] {s['filename']}, {_pages(s)}{section}  (score {s['score']:.2f})")


def stream_answer(client: httpx.Client, body: dict[str, Any]) -> int:
    """Print one streamed answer (read through `app.client.Lectern.ask`); the exit status."""
    sources: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    options = {k: v for k, v in body.items() if k != "question"}
    try:
        for event in Lectern(http=client).ask(body["question"], **options):
            data: Any = event.data if event.data is not None else {}
            if event.name == "meta":
                meta = data
            elif event.name == "sources":
                sources = data
            elif event.name == "token":
                sys.stdout.write(data["text"])
                sys.stdout.flush()
            elif event.name == "handover":
                console.print(f"\n[yellow](continued by {escape(data['model'])})[/yellow]")
            elif event.name == "usage":
                meta["usage"] = data
            elif event.name == "error":
                print()
                console.print(f"[red]{escape(data['code'])}: {escape(data['message'])}[/red]")
                return 1
    except ClientError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        return 1
    except SSEError as exc:
        console.print(f"[red]not an event stream: {escape(str(exc))}[/red]")
        return 1
    print()
    if sources:
        print()
        print_sources(sources)
    _footer(meta)
    return 0


def _footer(meta: dict[str, Any]) -> None:
    if meta.get("query"):
        console.print(f"[dim]searched for: {escape(str(meta['query']))}[/dim]")
    if meta.get("conversation_id"):
        console.print(f"[dim]conversation {escape(str(meta['conversation_id']))}[/dim]")
    if meta.get("insufficient_evidence"):
        return
    usage = meta.get("usage") or {}
    label = "extractive (quoted from the sources)" if meta.get("extractive") else meta.get("model")
    cached = ", cached" if meta.get("cached") else ""
    console.print(f"[dim]{escape(str(label))} via {escape(str(meta.get('provider')))}{cached}; "
                  f"${usage.get('cost_usd', 0):.6f}, first token {usage.get('ttft_ms')} ms[/dim]")


def _in_conversation(client: httpx.Client, body: dict[str, Any], conversation: str | None) -> int:
    """Put the conversation's id into `body` (starting one for 'new'); the exit status."""
    if conversation is None:
        return 0
    if conversation == "new":
        response = client.post("/v1/conversations", json={})
        if response.status_code != 201:
            console.print(f"[red]{escape(describe_error(response))}[/red]")
            return 1
        conversation = str(response.json()["id"])
    body["conversation_id"] = conversation
    return 0


def ask(
    question: Annotated[str, typer.Argument(help="what to ask your documents")],
    collection: Annotated[str | None, typer.Option(help="only this collection")] = None,
    top_k: Annotated[
        int | None, typer.Option(min=1, max=50, help="sources to retrieve (default: the server's)")
    ] = None,
    mode: Annotated[str, typer.Option(help="hybrid, vector or text retrieval")] = "hybrid",
    url: Annotated[str, typer.Option(envvar="LECTERN_URL", show_default=False, help=URL_HELP)] = "",
    api_key: Annotated[str | None, typer.Option(envvar="LECTERN_API_KEY", help="API key")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait between events")] = 300.0,
    conversation: Annotated[str | None, typer.Option(
        help="a stored conversation's id to ask a follow-up in, or 'new' to start one")] = None,
) -> None:
    """Ask a question over the HTTP API; the answer streams, then its sources are listed."""
    url = url or default_url()
    body: dict[str, Any] = {"question": question, "mode": mode}
    if top_k is not None:
        body["top_k"] = top_k
    if collection:
        body["collection"] = collection
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
            status = _in_conversation(client, body, conversation)
            if status == 0:
                status = stream_answer(client, body)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {escape(url)}: {escape(str(exc))}[/red]")
        status = 1
    raise typer.Exit(status)
