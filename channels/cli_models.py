"""`companion models`: reachable models and their traits, the monitor's figures, the local model.

`companion models [--stats] [--json]` and `companion models local start|stop|status`. Parse,
call, render; errors are one sentence on stderr and exit code 1.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.config import Settings, get_settings
from agent.domain import CompanionError
from agent.models.local import LocalModelServer, LocalStatus

models_app = typer.Typer(help="Models: what is reachable, how each performs, the local model.",
                         invoke_without_command=True)
local_app = typer.Typer(help="The managed local model (llama.cpp server, bundled SmolLM2).",
                        no_args_is_help=True)
models_app.add_typer(local_app, name="local")

out = Console()
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@models_app.callback()
def models(ctx: typer.Context,
           stats: Annotated[bool, typer.Option("--stats", help="Per-model call figures.")] = False,
           as_json: JsonOpt = False) -> None:
    """List reachable models with their traits (or, with --stats, the monitor's figures)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    if stats:
        rows = [asdict(s) for s in _model_stats(settings)]
        _emit(rows, as_json, _stats_table)
    else:
        _emit([asdict(m) for m in _detected(settings)], as_json, _models_table)


@local_app.command()
def start(model: Annotated[Path | None, typer.Option(
              "--model", help="A GGUF file (default: the bundled SmolLM2-135M).")] = None,
          port: Annotated[int | None, typer.Option(min=1, max=65535, help="Default: free.")] = None,
          detach: Annotated[bool, typer.Option(
              "--detach", help="Keep serving after this command exits (stop it with "
              "`companion models local stop`).")] = False,
          timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for ready.")] = 120,
          as_json: JsonOpt = False) -> None:
    """Start the local model server; serves until Ctrl-C unless --detach."""
    server = LocalModelServer(get_settings(), model_path=model, port=port)
    status = _guard(lambda: server.start(timeout, detach=detach))
    _emit(status.to_dict(), as_json, lambda _: _status_line(status))
    if detach or not status.pid:
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if not as_json:
            out.print("[dim]Serving; Ctrl-C stops it. `companion chat` in another terminal.[/dim]")
        while server.status(probe=False).running:
            time.sleep(1.0)
        err.print(f"[red]The local model server stopped: see {status.log_path}.[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@local_app.command()
def stop(as_json: JsonOpt = False) -> None:
    """Stop the local model server started from any process."""
    server = LocalModelServer(get_settings())
    was = server.status(probe=False)
    status = _guard(server.stop)
    _emit({**status.to_dict(), "stopped_pid": was.pid}, as_json,
          lambda _: f"Stopped the local model server (pid {was.pid})." if was.running
          else "The local model server was not running.")


@local_app.command()
def status(as_json: JsonOpt = False) -> None:
    """Is the local model server running and answering?"""
    current = _guard(LocalModelServer(get_settings()).status)
    _emit(current.to_dict(), as_json, lambda _: _status_line(current))


def _detected(settings: Settings) -> list[Any]:
    from agent.models.detector import detect
    from agent.models.local import detection_settings

    return detect(detection_settings(settings))


def _model_stats(settings: Settings) -> list[Any]:
    from agent.models.monitor import stats
    from agent.store import Journal

    journal = Journal(settings.journal_path)
    try:
        return stats(journal)
    finally:
        journal.close()


def _guard(call: Any) -> Any:
    try:
        return call()
    except CompanionError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None


def _emit(data: Any, as_json: bool, human: Any) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    else:
        out.print(human(data))


def _status_line(status: LocalStatus) -> str:
    if not status.running:
        return "The local model server is not running: `companion models local start`."
    state = "ready" if status.ready else "[yellow]starting or not answering[/yellow]"
    return (f"Local model [bold]{status.model}[/bold] {state} at {status.base_url} "
            f"(pid {status.pid}{', detached' if status.detached else ''}); "
            f"log: {status.log_path}")


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _models_table(rows: list[dict[str, Any]]) -> Table | str:
    if not rows:
        return ("No model reachable: commands still work (/help). Start the local one with "
                "`companion models local start`, or run Ollama, or set OPENAI_API_KEY.")
    table = Table("model", "provider", "tools", "context", "size", "where", "cost",
                  title="Reachable models")
    for m in rows:
        table.add_row(m["name"], m["provider"], _yes_no(m["tool_calling"]),
                      str(m["context_length"] or "?"), m["size_class"] or "?",
                      "local" if m["local"] else "remote", m["cost"])
    return table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _stats_table(rows: list[dict[str, Any]]) -> Table | str:
    if not rows:
        return "No model calls recorded yet."
    table = Table("model", "provider", "calls", "errors", "p50 ms", "p95 ms", "ttft ms",
                  "tool calls", "valid", title="Model calls (journal)")
    for s in rows:
        validity = s["tool_call_validity"]
        table.add_row(s["model"], s["provider"], str(s["calls"]),
                      f"{s['errors']} ({s['error_rate']:.0%})", _ms(s["p50_latency_ms"]),
                      _ms(s["p95_latency_ms"]), _ms(s["mean_ttft_ms"]), str(s["tool_calls"]),
                      "-" if validity is None else f"{validity:.0%}")
    return table
