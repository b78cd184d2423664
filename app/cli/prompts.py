"""`lectern prompts report answer` and `lectern prompts feedback ID up|down`: the prompt
variants' comparison, and rating an answer, over the HTTP API (through `app.client.Lectern`,
like `lectern ask`).

The report prints one row per version of the prompt: its weight now, answers, up and down
ratings, the insufficient-evidence rate, tokens in and out, cost and latency p50/p95 (from
`GET /v1/prompts/{name}/report`), over all answers or `--since`/`--until`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.cli.ingest import URL_HELP
from app.client import ClientError, Lectern, default_url

console = Console(stderr=True)
out = Console()
prompts_cli = typer.Typer(no_args_is_help=True, help="Prompt versions: variants and feedback.")

UrlOption = Annotated[str, typer.Option(envvar="LECTERN_URL", show_default=False, help=URL_HELP)]
KeyOption = Annotated[str | None, typer.Option(envvar="LECTERN_API_KEY", help="API key")]


@contextmanager
def _client(url: str, api_key: str | None) -> Iterator[Lectern]:
    """A client of the server at `url` (else `LECTERN_URL`'s default); an API refusal or an
    unreachable server is one red line and exit code 1."""
    url = url or default_url()
    try:
        with Lectern(url, api_key, timeout=60.0) as client:
            yield client
    except ClientError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {escape(url)}: {escape(str(exc))}[/red]")
        raise typer.Exit(1) from None


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def print_report(report: dict[str, Any]) -> None:
    """The per-variant table of a report."""
    window = " ".join(f"{k} {report[k]}" for k in ("since", "until") if report.get(k))
    table = Table(title=f"prompt {report['prompt']}" + (f" ({window})" if window else ""))
    for column in ("version", "weight", "answers", "up", "down", "insufficient", "tokens in",
                   "tokens out", "cost $", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "version" else "right")
    for v in report["variants"]:
        rate = v["insufficient_evidence_rate"]
        table.add_row(
            v["prompt"], "—" if v["weight"] is None else f"{v['weight']:g}", str(v["answers"]),
            str(v["up"]), str(v["down"]), "—" if rate is None else f"{rate:.1%}",
            str(v["input_tokens"]), str(v["output_tokens"]), f"{v['cost_usd']:.6f}",
            _ms(v["latency_p50_ms"]), _ms(v["latency_p95_ms"]))
    out.print(table)


@prompts_cli.command("report")
def report(
    name: Annotated[str, typer.Argument(help="the prompt, e.g. answer")],
    since: Annotated[str | None, typer.Option(help="date or ISO date-time (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="date or ISO date-time (UTC)")] = None,
    url: UrlOption = "",
    api_key: KeyOption = None,
) -> None:
    """Compare the prompt's versions on your answers: feedback, evidence, tokens, cost,
    latency."""
    with _client(url, api_key) as client:
        print_report(client.prompt_report(name, since=since, until=until))


@prompts_cli.command("feedback")
def feedback(
    answer_id: Annotated[str, typer.Argument(help="the answer_id of the answer's meta")],
    rating: Annotated[Literal["up", "down"], typer.Argument(help="up or down")],
    comment: Annotated[str | None, typer.Option(help="why")] = None,
    url: UrlOption = "",
    api_key: KeyOption = None,
) -> None:
    """Rate an answer up or down (replaces an earlier rating)."""
    with _client(url, api_key) as client:
        stored = client.feedback(answer_id, rating, comment=comment)
    out.print(f"answer {stored['answer_id']}: {stored['rating']}")
