"""`companion serve`, `companion api` and `companion logs` (registered in channels/cli.py)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from agent.config import get_settings
from agent.domain import CompanionError
from agent.logs import LEVELS, LogQuery, follow_logs, read_logs, start_logging
from channels.rest.server import DEFAULT_HOST, DEFAULT_PORT

out = Console()
err = Console(stderr=True)
Host = Annotated[str, typer.Option("--host", help="Address the REST API listens on.")]
Port = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of the REST API.")]
Rate = Annotated[int, typer.Option("--rate-limit", min=1,
                                   help="API requests per minute per token.")]
_STYLE = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


def _run(only: frozenset[str] | None, skip: frozenset[str], host: str, port: int, rate: int,
         role: str, mcp_port: int | None = None) -> None:
    from channels.serve import ServeOptions, run_until_signalled, serve

    settings = get_settings()
    try:
        start_logging(settings, role)
        options = ServeOptions(api_host=host, api_port=port, api_rate_per_minute=rate,
                               mcp_port=mcp_port, only=only, skip=skip)
        run_until_signalled(lambda stop: serve(settings, options, stop, console=out))
    except (CompanionError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


def serve_command(
        host: Host = DEFAULT_HOST, port: Port = DEFAULT_PORT, rate: Rate = 600,
        web: Annotated[bool, typer.Option("--web/--no-web", help="Run the web chat.")] = True,
        api: Annotated[bool, typer.Option("--api/--no-api", help="Run the REST API.")] = True,
        alerts: Annotated[bool, typer.Option("--alerts/--no-alerts",
                                             help="Run the alert watcher.")] = True,
        telegram: Annotated[bool, typer.Option("--telegram/--no-telegram",
                                               help="Run the Telegram bot.")] = True,
        mcp_port: Annotated[int | None, typer.Option(
            "--mcp-port", min=1, max=65535, help="Also serve the MCP tools over streamable "
            "HTTP on this port, beside the REST API and with its tokens (off without it).")]
        = None) -> None:
    """Run everything configured in one process (Ctrl-C or SIGTERM stops it cleanly)."""
    skip = frozenset(name for name, on in (("web", web), ("api", api), ("alerts", alerts),
                                           ("telegram", telegram)) if not on)
    _run(None, skip, host, port, rate, role="serve", mcp_port=mcp_port)


def api_command(host: Host = DEFAULT_HOST, port: Port = DEFAULT_PORT, rate: Rate = 600) -> None:
    """Run the REST API alone (with the terminal health monitor and the runtime: alerts, the
    account monitor, the event stream of GET /v1/events)."""
    _run(frozenset({"api", "health", "alerts"}), frozenset(), host, port, rate, role="api")


def logs_command(
        follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")]
        = False,
        component: Annotated[str | None, typer.Option(
            "--component", help="Logger name prefix, e.g. channels.rest or agent.broker.")] = None,
        level: Annotated[str, typer.Option("--level", help="Lowest level shown.")] = "INFO",
        lines: Annotated[int, typer.Option("-n", min=1, help="Last N lines.")] = 100) -> None:
    """Show the companion's logs (JSON lines under the log folder)."""
    if level.upper() not in LEVELS:
        err.print(f"[red]--level must be one of {', '.join(LEVELS)}.[/red]")
        raise typer.Exit(2)
    folder = get_settings().logs_path
    query = LogQuery(component=component, level=level.upper())
    if not folder.exists():
        err.print(f"No logs yet in {folder}.")
        raise typer.Exit(1)
    for line in read_logs(folder, query)[-lines:]:
        out.print(_render(line))
    if follow:
        try:
            for line in follow_logs(folder, query):
                out.print(_render(line))
        except KeyboardInterrupt:
            return


def _render(line: dict) -> Text:
    level = str(line.get("level", ""))
    text = Text(f"{line['time'][:23]} ", style="dim")
    text.append(f"{level:<8} ", style=_STYLE.get(level, ""))
    text.append(f"{line.get('logger', '')}: ", style="cyan")
    text.append(str(line.get("message", "")))
    if line.get("exc"):
        text.append("\n" + str(line["exc"]), style="red")
    return text


def register(app: typer.Typer) -> None:
    """Add serve, api and logs to the `companion` command."""
    app.command("serve")(serve_command)
    app.command("api")(api_command)
    app.command("logs")(logs_command)
