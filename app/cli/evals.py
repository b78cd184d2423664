"""`lectern eval golden.jsonl`: run a golden set on a server and fail when a metric regressed.

A plain HTTP client of `POST /v1/evals` (like `lectern ask`): the JSONL lines are sent as the
set's questions (the server checks them and names a bad one), the run's metrics are printed
with their change against the previous run of the same name, and the exit status is 1 when
a metric dropped by more than `--tolerance` (or the run could not be made), so a team can
put it in its own CI. The suggested `min_score` for the collection is printed too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.cli.ingest import URL_HELP, describe_error
from app.client import default_url

console = Console(stderr=True)
out = Console()


def read_lines(path: Path) -> list[Any]:
    """The JSON value of every non-blank, non-`#` line; `typer.BadParameter` naming a bad one."""
    values: list[Any] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            values.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"{path}:{number}: not JSON ({exc.msg})") from None
    return values


def print_run(run: dict[str, Any]) -> list[str]:
    """The metrics table; returns the regressed metrics' names."""
    comparison = run.get("comparison") or {}
    deltas = comparison.get("deltas") or {}
    regressions: list[str] = comparison.get("regressions") or []
    table = Table(title=f"{run['name']}: {run['question_count']} questions")
    for column in ("metric", "value", "change"):
        table.add_column(column)
    for name, value in run["metrics"].items():
        change = "" if name not in deltas else f"{deltas[name]:+.4f}"
        mark = " [red]regressed[/red]" if name in regressions else ""
        table.add_row(name, "—" if value is None else f"{value:.4f}", change + mark)
    out.print(table)
    if run.get("suggested_min_score") is not None:
        out.print(f"suggested min_score: {run['suggested_min_score']:.4f}")
    if not comparison:
        out.print("first run of this set: nothing to compare with")
    return regressions


def eval_command(
    golden: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                           help="JSONL: question, document, pages, answer")],
    collection: Annotated[str | None, typer.Option(help="search only this collection")] = None,
    name: Annotated[str | None, typer.Option(
        help="the set's name; runs of one name are compared (default: the file's stem)")] = None,
    tolerance: Annotated[float, typer.Option(min=0, max=1,
                                             help="largest drop that is not a regression")] = 0.02,
    answers: Annotated[bool, typer.Option(help="also answer questions with an answer")] = True,
    mode: Annotated[str, typer.Option(help="hybrid, vector or text retrieval")] = "hybrid",
    url: Annotated[str, typer.Option(envvar="LECTERN_URL", show_default=False, help=URL_HELP)] = "",
    api_key: Annotated[str | None, typer.Option(envvar="LECTERN_API_KEY", help="API key")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the run")] = 900.0,
) -> None:
    """Run a golden set against the live corpus; exit 1 when a metric regressed."""
    url = url or default_url()
    questions = read_lines(golden)
    body = {"name": name or golden.stem, "collection": collection, "tolerance": tolerance,
            "answers": answers, "mode": mode, "questions": questions}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with (httpx.Client(base_url=url, headers=headers, timeout=timeout) as client,
              console.status(f"running {len(questions)} questions")):
            response = client.post("/v1/evals", json=body)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {escape(url)}: {escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    if response.status_code != 200:
        console.print(f"[red]{escape(describe_error(response))}[/red]")
        raise typer.Exit(1)
    regressions = print_run(response.json())
    if regressions:
        console.print(f"[red]regressed: {', '.join(regressions)}[/red]")
    raise typer.Exit(1 if regressions else 0)
