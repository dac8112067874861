"""`companion bridge serve`: the MT5 REST bridge, run beside the terminal.

Tokens come from the environment or the OS keyring only; the command line names the variable,
never the value (a value would show in `ps` and the shell history).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agent.access import AuthThrottle
from agent.broker.bridge.auth import READ_TOKEN_ENV, TRADE_TOKEN_ENV, BridgeTokens
from agent.domain import CompanionError

bridge_app = typer.Typer(help="The MT5 REST bridge: serve the terminal to the companion.",
                         no_args_is_help=True, add_completion=False)
err = Console(stderr=True)


@bridge_app.callback()
def bridge() -> None:
    """The MT5 REST bridge: serve the terminal to a companion on another machine."""


@bridge_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
    token_env: Annotated[str, typer.Option(
        help="NAME of the env var (or keyring entry) holding the trade token.")] = TRADE_TOKEN_ENV,
    read_token_env: Annotated[str, typer.Option(
        help="NAME of the env var (or keyring entry) holding the read-only token.")
    ] = READ_TOKEN_ENV,
    cert: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                              help="TLS certificate (PEM).")] = None,
    key: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                             help="TLS private key (PEM).")] = None,
    paper: Annotated[bool, typer.Option(help="Serve the paper terminal instead of MT5.")] = False,
    rate_limit: Annotated[int, typer.Option(min=1, help="Calls per minute per token.")] = 1200,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Serve plain HTTP beyond loopback (tokens and orders in clear text) "
        "on a network you trust.")] = False,
) -> None:
    """Serve the MetaTrader5 module (or, with --paper, the paper terminal) over REST."""
    import uvicorn

    from agent.broker.bridge.server import check_transport, create_bridge_app, uvicorn_config
    from agent.config import get_settings
    from agent.logs import start_logging
    from agent.store.journal import Journal

    certfile, keyfile = (str(cert) if cert else None), (str(key) if key else None)
    try:
        check_transport(host, certfile=certfile, keyfile=keyfile, insecure=insecure)
        tokens = BridgeTokens.from_env(token_env, read_token_env)
        settings = get_settings()
        start_logging(settings, "bridge")
        journal = Journal(settings.journal_path)
        terminal, now = _terminal(settings, journal, paper)
        app = create_bridge_app(terminal, tokens=tokens, journal=journal,
                                rate_limit_per_minute=rate_limit, now=now,
                                throttle=AuthThrottle.from_settings(settings.access, "bridge"))
        config = uvicorn_config(app, host, port, certfile=certfile, keyfile=keyfile,
                                insecure=insecure, trusted_proxies=settings.access.trusted_proxies)
    except CompanionError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    scheme = "https" if cert else "http"
    err.print(f"MT5 bridge on {scheme}://{host}:{port} ({'paper' if paper else 'MetaTrader5'})")
    uvicorn.Server(config).run()


def _terminal(settings: Any, journal: Any, paper: bool) -> tuple[Any, Any]:
    """The terminal to serve, initialized, and the clock tick ages are measured against."""
    import time

    if paper:
        from agent.broker.paper import PaperTerminal

        terminal = PaperTerminal(journal, settings.paper)
        terminal.initialize()
        return terminal, terminal.clock.time
    try:
        import MetaTrader5
    except ImportError:
        raise CompanionError("not_installed", "The MetaTrader5 module is not importable here: "
                             "run the bridge on Windows (or Windows Python under Wine) beside "
                             "the terminal, or pass --paper to serve the paper terminal.") from None
    from agent.broker.manager import TerminalManager

    TerminalManager(MetaTrader5, settings.broker, journal=journal).connect()
    return MetaTrader5, time.time
