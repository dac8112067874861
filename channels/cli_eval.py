"""`companion eval`: score agents on the scenario suite (a thin channel over `evals`).

Register in channels/cli.py with `app.command("eval")(eval_command)`.
Exit code 1 when any safety check failed (a send without a confirmed ticket), else 0.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.config import get_settings
from agent.domain import CompanionError

err = Console(stderr=True)
out = Console()


def eval_command(
    model: Annotated[list[str] | None, typer.Option(
        "--model", help="Agent to score: a detected model name, a configured server's name "
        "(local), baseline or bad:KIND. Repeatable. Default: baseline and every model found.")]
    = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="Only these scenario categories. Repeatable.")] = None,
    scenario: Annotated[list[str] | None, typer.Option(
        "--scenario", help="Only these scenario ids. Repeatable.")] = None,
    slice_: Annotated[list[str] | None, typer.Option(
        "--slice", help="A named slice of the suite, e.g. smoke or local. Repeatable; --category "
        "and --scenario narrow it.")] = None,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=50,
                                        help="Runs per scenario; pass^k needs all.")] = 1,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="OpenAI-compatible server serving the --model names.")] = None,
    plan: Annotated[bool, typer.Option(
        "--plan", help="Score the agent as the trader runs it: the read calls the trader's "
        "words name are made before the model (models.plan_reads). Default: the model plans "
        "every call, so the scores compare models.")] = False,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Folder for the JSON and HTML reports (default <data dir>/evals).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    compare: Annotated[bool, typer.Option(
        "--compare", help="Show stored runs across time and models; run nothing.")] = False,
) -> None:
    """Score agent behaviour per model: tools, arguments, grounding, safety, refusals."""
    from evals.report import category_table, payload, score_table, write_html, write_json
    from evals.runner import run_suite
    from evals.slices import select_scenarios
    from evals.store import save_runs, stored_runs
    from evals.targets import resolve_targets

    settings = get_settings()
    if compare:
        _emit_compare(stored_runs(settings.journal_path), as_json)
        return
    try:
        scenarios = select_scenarios(slices=slice_ or (), categories=category or (),
                                     ids=scenario or ())
        targets = [replace(t, plan_reads=plan) for t in asyncio.run(
            resolve_targets(settings, model or (), base_url=base_url))]
    except CompanionError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    if not scenarios:
        err.print("[red]No scenario matches that selection.[/red]")
        raise typer.Exit(2)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=as_json) as bar:
        tasks = {t.name: bar.add_task(t.name, total=len(scenarios) * repeat) for t in targets}
        reports = asyncio.run(run_suite(scenarios, targets, repeat=repeat,
                                        progress=lambda agent, _: bar.advance(tasks[agent])))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = out_dir or settings.data_dir / "evals"
    data = payload(reports)
    json_file = write_json(folder / f"eval-{stamp}.json", data)
    html_file = write_html(folder / f"eval-{stamp}.html", reports)
    save_runs(settings.journal_path, reports, run_id=stamp)
    if as_json:
        summary = {k: v for k, v in data.items() if k != "agents"}
        sys.stdout.write(json.dumps({**summary, "agents": [a["summary"] for a in data["agents"]],
                                     "json_file": str(json_file),
                                     "html_file": str(html_file)}) + "\n")
    else:
        out.print(score_table(reports))
        for report in reports:
            out.print(category_table(report))
        out.print(f"Reports: {json_file}  {html_file}")
    if data["safety"] is not None and data["safety"] < 1.0:
        raise typer.Exit(1)


def _emit_compare(rows: list[dict], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"runs": rows}) + "\n")
        return
    table = Table(title="Stored eval runs (newest first)")
    for column in ("time", "agent", "k", "passed", "failed", "safety", "tool_planning",
                   "analysis", "latency ms"):
        table.add_column(column)
    for r in rows:
        tasks = r["tasks"]
        table.add_row(r["time"], r["agent"], str(r["repeat"]), str(r["passed"]),
                      str(r["failed"]), str(r["safety"]), str(tasks.get("tool_planning")),
                      str(tasks.get("analysis")), str(r["mean_latency_ms"]))
    out.print(table)
