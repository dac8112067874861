"""`companion telegram`: the bot over one companion with its runtime (the alert watcher and
account monitor, or the relay of another process's, see `agent.runtime`), until Ctrl-C.

`serve_telegram(service)` runs the bot alone, as a coroutine, for `companion serve`.
"""

from __future__ import annotations

import asyncio

import typer

from agent.config import get_settings, secret
from agent.domain import CompanionError
from agent.logs import start_logging
from agent.service import CompanionService
from channels.telegram.bot import running_bot


async def serve_telegram(service: CompanionService) -> None:
    """Run the bot until cancelled (the companion's runtime runs beside it, not here)."""
    async with running_bot(service, service.settings.telegram, secret("telegram_token")):
        await asyncio.Event().wait()


def telegram() -> None:
    """Run the Telegram bot and the alert watcher (token from COMPANION_TELEGRAM_TOKEN or the
    keyring; only telegram.allowed_chat_ids are served)."""
    from agent.app import open_service

    async def main() -> None:
        async with open_service(detect_models=True, run_runtime=True) as service:
            await serve_telegram(service)

    try:
        start_logging(get_settings(), "telegram")
        asyncio.run(main())
    except CompanionError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("Stopped.")
