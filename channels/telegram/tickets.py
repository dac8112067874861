"""Ticket messages with Approve / Reject buttons, and the buttons' callback."""

from __future__ import annotations

import logging
from dataclasses import asdict
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from agent.domain import CompanionError
from channels.telegram import formatting
from channels.telegram.deps import answer_query, deps_of, edit, send

log = logging.getLogger(__name__)
PATTERN = r"^tkt:(approve|reject):[A-Za-z0-9_]+$"


def buttons(ticket_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("Approve", callback_data=f"tkt:approve:{ticket_id}"),
        InlineKeyboardButton("Reject", callback_data=f"tkt:reject:{ticket_id}")]])


async def on_ticket_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the query, resolve the ticket through the service, show the outcome."""
    query = update.callback_query
    await answer_query(query)
    _, decision, ticket_id = query.data.split(":", 2)
    deps, message = deps_of(context), query.message
    try:
        reply = await deps.service.resolve_ticket(ticket_id, decision, by="telegram")
    except CompanionError as exc:
        try:
            await context.bot.edit_message_reply_markup(message.chat.id, message.message_id,
                                                        reply_markup=None)
        except TelegramError as err:  # buttons already gone: the refusal below still goes
            log.info("removing ticket buttons failed: %s", type(err).__name__)
        await send(deps, context.bot, message.chat.id, escape(
            f"{exc.message} Nothing more was sent."), label="refusal",
            reply_to=message.message_id)
        return
    ticket = asdict(await deps.service.ticket_status(ticket_id))
    outcome = reply.text or ("Approved." if decision == "approve" else "Rejected.")
    await edit(deps, context.bot, message.chat.id, message.message_id,
               formatting.ticket_outcome(ticket, outcome))

