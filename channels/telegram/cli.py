"""`companion telegram`: the bot and the alert watcher over one companion, until Ctrl-C.

`serve_telegram(companion)` is the same thing as a coroutine, for `companion serve`.
"""

from __future__ import annotations

import asyncio

import typer

from agent.alerts.watcher import AlertWatcher
from agent.config import get_settings, secret
from agent.domain import CompanionError
from agent.logs import start_logging
from channels.telegram.bot import running_bot


async def serve_telegram(companion, *, watch: bool = True) -> None:
    """Run the bot (and, with `watch`, the alert watcher) until cancelled."""
    async with running_bot(companion.service, companion.events, companion.journal,
                           companion.settings.telegram, secret("telegram_token")):
        tasks = []
        if watch:
            watcher = AlertWatcher(companion.desk, companion.journal, companion.events,
                                   tickets=companion.service.tickets)
            tasks.append(asyncio.create_task(watcher.run(), name="alert-watcher"))
        try:
            await asyncio.Event().wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def telegram() -> None:
    """Run the Telegram bot and the alert watcher (token from COMPANION_TELEGRAM_TOKEN or the
    keyring; only telegram.allowed_chat_ids are served)."""
    from agent.app import open_companion

    async def main() -> None:
        async with open_companion(detect_models=True) as companion:
            await serve_telegram(companion)

    try:
        start_logging(get_settings(), "telegram")
        asyncio.run(main())
    except CompanionError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("Stopped.")
