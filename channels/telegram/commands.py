"""Command and free-text handlers: parse, call the service, render."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.ext import ContextTypes

from agent.domain import CompanionError
from agent.tools.commands import parse_command
from channels.telegram import formatting
from channels.telegram.deps import answer, deps_of

#: Read-only (and halt/resume, alert) commands the bot answers itself.
COMMANDS = ("status", "positions", "account", "price", "analyze", "alerts", "alert",
            "cancelalert", "halt", "resume", "help")


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/status, /price EURUSD, /alert EURUSD rsi<30 H1, ..."""
    try:
        cmd = parse_command(update.effective_message.text or "")
        data = await deps_of(context).service.command(cmd.name, **cmd.args)
        html = formatting.command(cmd.name, data)
    except CompanionError as exc:
        html = escape(exc.message)
    await answer(update, context, html)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything else (questions, /buy ...) goes to the agent, in this chat's own thread."""
    chat_id = update.effective_chat.id
    try:
        reply = await deps_of(context).service.send(f"tg-{chat_id}",
                                                    update.effective_message.text or "")
        text = reply.text or (f"Ticket {reply.ticket['id']} is waiting for your answer below."
                              if reply.ticket else "Done.")
        html = escape(text)
    except CompanionError as exc:
        html = escape(exc.message)
    await answer(update, context, html)
