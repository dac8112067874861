"""`companion mcp`: the MCP server over stdio (for desktop clients) or streamable HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from agent.config import get_settings
from agent.domain import CompanionError
from agent.logs import start_logging
from channels.mcp.server import DEFAULT_PORT, DEFAULT_RATE_PER_MINUTE, serve_http, serve_stdio
from channels.rest.auth import ApiTokens

err = Console(stderr=True)


def mcp_command(
        transport: Annotated[Literal["stdio", "http"], typer.Option(
            "--transport", help="stdio: a desktop client starts this command; http: "
            "streamable HTTP at /mcp.")] = "stdio",
        host: Annotated[str, typer.Option("--host", help="HTTP: the address to listen on.")]
        = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = DEFAULT_PORT,
        rate: Annotated[int, typer.Option("--rate-limit", min=1,
                                          help="HTTP: requests per minute per token.")]
        = DEFAULT_RATE_PER_MINUTE,
        certfile: Annotated[Path | None, typer.Option(
            "--certfile", exists=True, dir_okay=False, help="HTTP: TLS certificate (PEM).")]
        = None,
        keyfile: Annotated[Path | None, typer.Option(
            "--keyfile", exists=True, dir_okay=False, help="HTTP: its key (PEM).")]
        = None) -> None:
    """Serve the companion's read and propose-only tools to MCP clients. No MCP call can
    approve, confirm or send: the trader answers each ticket in the web chat, Telegram or
    the CLI."""
    from channels.serve import run_until_signalled

    settings = get_settings()
    try:
        start_logging(settings, "mcp", console=transport == "http")  # stdout is the protocol
        if transport == "stdio":
            run_until_signalled(lambda stop: serve_stdio(settings, stop))
            return
        tokens = ApiTokens.from_env()
        run_until_signalled(lambda stop: serve_http(
            settings, stop, host=host, port=port, tokens=tokens, rate_per_minute=rate,
            certfile=str(certfile) if certfile else None,
            keyfile=str(keyfile) if keyfile else None))
    except CompanionError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
