"""Buttons under /positions: Close and Breakeven for each open position. A tap proposes the
change in this chat's conversation; its ticket follows with Approve / Reject, so nothing is sent
before the trader approves that exact ticket."""

from __future__ import annotations

from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from agent.domain import CompanionError
from channels.telegram.deps import answer_query, deps_of, send

PATTERN = r"^pos:(close|be):[0-9]{1,19}$"
MAX_ROWS = 20  # a long book keeps its text; buttons for the first positions only


def buttons(positions: list[dict[str, Any]]) -> InlineKeyboardMarkup | None:
    """One row per position: Close #N, Breakeven #N (None for a flat book)."""
    if not positions:
        return None
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(f"Close #{p['ticket']}", callback_data=f"pos:close:{p['ticket']}"),
        InlineKeyboardButton(f"Breakeven #{p['ticket']}", callback_data=f"pos:be:{p['ticket']}"),
    ] for p in positions[:MAX_ROWS]])


async def on_position_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the query, then propose the close or breakeven through the service."""
    query = update.callback_query
    await answer_query(query)
    _, action, number = query.data.split(":", 2)
    deps, chat_id = deps_of(context), query.message.chat.id
    thread, position = f"tg-{chat_id}", int(number)
    try:
        reply = await (deps.service.propose_close(thread, position) if action == "close"
                       else deps.service.propose_breakeven(thread, position))
        text = (f"Ticket {reply.ticket['id']} is waiting for your answer below."
                if reply.ticket is not None else reply.text or "Nothing was proposed.")
    except CompanionError as exc:
        text = exc.message
    await send(deps, context.bot, chat_id, escape(text), label="reply",
               reply_to=query.message.message_id)
