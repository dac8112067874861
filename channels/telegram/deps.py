"""What every handler of the bot needs, kept in `application.bot_data`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from agent.service import CompanionService
from channels.telegram.outbox import Outbox

#: The bot's name for its own records (`CompanionService.channel_store`).
CHANNEL = "telegram"


@dataclass
class BotDeps:
    """The service the bot adapts, the allow-lists and the outbox."""

    service: CompanionService
    allowed: frozenset[int]
    outbox: Outbox
    #: users served in a group chat of `allowed` (a private chat needs only its chat id)
    allowed_users: frozenset[int] = frozenset()
    #: ticket id -> (chat id, message id) of every ticket message with buttons
    ticket_messages: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


def deps_of(context: ContextTypes.DEFAULT_TYPE) -> BotDeps:
    return context.bot_data["deps"]


async def send(deps: BotDeps, bot: Bot, chat_id: int, html: str, *,
               markup: InlineKeyboardMarkup | None = None, silent: bool = False,
               label: str = "message", reply_to: int | None = None) -> Message | None:
    """Send HTML through the outbox (retried; journaled if it finally fails)."""
    return await deps.outbox.submit(label, chat_id, html, lambda: bot.send_message(
        chat_id, html, parse_mode=ParseMode.HTML, reply_markup=markup,
        disable_notification=silent, reply_to_message_id=reply_to))


async def send_photo(deps: BotDeps, bot: Bot, chat_id: int, png: bytes, caption: str, *,
                     label: str = "photo") -> Message | None:
    """Send an image with a plain caption through the outbox (retried like a message)."""
    return await deps.outbox.submit(label, chat_id, caption, lambda: bot.send_photo(
        chat_id, photo=png, caption=caption))


async def edit(deps: BotDeps, bot: Bot, chat_id: int, message_id: int, html: str) -> Any:
    """Replace a message's text and drop its buttons, through the outbox."""
    return await deps.outbox.submit("edit", chat_id, html, lambda: bot.edit_message_text(
        html, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
        reply_markup=None))


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE, html: str) -> None:
    """Reply in the chat an update came from."""
    chat = update.effective_chat
    if chat is not None:
        await send(deps_of(context), context.bot, chat.id, html, label="reply")


async def answer_query(query: CallbackQuery) -> None:
    """Stop a tapped button's spinner; if Telegram refuses, the spinner stops by itself and
    the tap still counts."""
    try:
        await query.answer()
    except TelegramError as exc:
        logging.getLogger(__name__).info("answerCallbackQuery failed: %s", type(exc).__name__)
