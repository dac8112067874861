"""The bot: one deny-by-default gate, handlers registered in one place, one error handler,
and the lifecycle (`running_bot`) shared by `companion telegram`, `companion serve` and tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, time

from pydantic import SecretStr
from telegram import BotCommand, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from agent.config import TelegramSettings
from agent.domain import CompanionError
from agent.service import CompanionService
from agent.tools.commands import USAGE
from channels.telegram import alerts, commands, positions, tickets
from channels.telegram.deps import CHANNEL, BotDeps
from channels.telegram.outbox import Outbox
from channels.telegram.redact import token_redacted

log = logging.getLogger(__name__)


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Serve allow-listed chats only, and in a group only allow-listed users: anything else
    (a command, a question, an Approve button) stops here, unanswered, logged without its
    content."""
    chat, user = update.effective_chat, update.effective_user
    deps = context.bot_data["deps"]
    if chat is None or chat.id not in deps.allowed:
        log.warning("ignored update %s from chat %s (not allowed)", update.update_id,
                    chat.id if chat else "?")
        raise ApplicationHandlerStop
    if chat.type != ChatType.PRIVATE and (user is None or user.id not in deps.allowed_users):
        log.warning("ignored update %s from user %s in group %s (not in "
                    "telegram.allowed_user_ids)", update.update_id, user.id if user else "?",
                    chat.id)
        raise ApplicationHandlerStop


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure's type; never a traceback or user data in a chat or the log."""
    log.error("telegram handler failed: %s", type(context.error).__name__)


def build_application(deps: BotDeps, token: str, *, base_url: str | None = None,
                      digest_time_utc: str | None = None) -> Application:
    """The application with every handler and job. `base_url`: a Bot API server's root
    (default Telegram's), e.g. a local `telegram-bot-api` at http://127.0.0.1:8081."""
    builder = Application.builder().token(token)
    if base_url:
        root = base_url.rstrip("/")
        builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    app = builder.build()
    app.bot_data["deps"] = deps
    app.add_handler(TypeHandler(Update, gate), group=-1)
    app.add_handler(CommandHandler(commands.COMMANDS, commands.on_command))
    app.add_handler(CommandHandler("notify", alerts.on_notify))
    app.add_handler(CallbackQueryHandler(tickets.on_ticket_button, pattern=tickets.PATTERN))
    app.add_handler(CallbackQueryHandler(positions.on_position_button,
                                         pattern=positions.PATTERN))
    app.add_handler(MessageHandler(filters.TEXT, commands.on_text))
    app.add_error_handler(on_error)
    if digest_time_utc:
        hours, minutes = (int(x) for x in digest_time_utc.split(":"))
        app.job_queue.run_daily(alerts.send_digest, time(hours, minutes, tzinfo=UTC),
                                name=alerts.DIGEST_JOB)
    return app


@asynccontextmanager
async def running_bot(service: CompanionService, settings: TelegramSettings,
                      token: SecretStr | None, *,
                      poll_timeout: float = 10.0, outbox: Outbox | None = None
                      ) -> AsyncIterator[Application]:
    """Start the bot (polling), its event pushes and its outbox; stop them all on exit."""
    if token is None:
        raise CompanionError("no_telegram_token", "No bot token: put it in "
                             "COMPANION_TELEGRAM_TOKEN or the OS keyring.")
    if not settings.allowed_chat_ids:
        raise CompanionError("no_allowed_chats", "No chat may use the bot: set "
                             "telegram.allowed_chat_ids to your chat id(s).")
    secret = token.get_secret_value()
    with token_redacted(secret):
        deps = BotDeps(service, frozenset(settings.allowed_chat_ids),
                       outbox or Outbox(service.channel_store(CHANNEL)),
                       frozenset(settings.allowed_user_ids))
        if not deps.allowed_users and any(chat < 0 for chat in deps.allowed):
            log.warning("telegram.allowed_chat_ids lists a group but telegram.allowed_user_ids "
                        "is empty: nobody in that group will be answered")
        app = build_application(deps, secret, base_url=settings.base_url,
                                digest_time_utc=settings.digest_time_utc)
        async with app:
            deps.outbox.start()
            await app.start()
            await _set_commands(app)
            sub = service.events()
            pushes = asyncio.create_task(alerts.pump(deps, app.bot, sub), name="telegram-pushes")
            await app.updater.start_polling(timeout=poll_timeout,
                                            allowed_updates=["message", "callback_query"])
            try:
                yield app
            finally:
                await app.updater.stop()
                sub.close()
                pushes.cancel()
                await asyncio.gather(pushes, return_exceptions=True)
                await app.stop()
                await deps.outbox.stop()


async def _set_commands(app: Application) -> None:
    listed = [BotCommand(name, USAGE[name][:256]) for name in commands.COMMANDS]
    try:
        await app.bot.set_my_commands(
            [*listed, BotCommand("notify", "/notify [EVENT on|off|silent]")])
    except TelegramError as exc:  # only the command menu is missing; the bot works
        log.warning("setMyCommands failed: %s", type(exc).__name__)

