"""Command and free-text handlers: parse, call the service, render."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.ext import ContextTypes

from agent.domain import CompanionError
from agent.service import Reply
from agent.tools.commands import parse_command
from channels.telegram import formatting
from channels.telegram.deps import answer, deps_of

#: Commands the bot answers itself: read-only ones (and halt/resume, alerts), and the
#: proposals of a cancel or a modify (their ticket follows, with Approve / Reject buttons).
COMMANDS = ("status", "positions", "orders", "account", "price", "analyze", "profit", "daily",
            "alerts", "alert", "cancelalert", "cancel", "modify", "halt", "resume", "help")


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/status, /price EURUSD, /orders, /cancel 123, /modify 456 sl 1.1050, /profit week, ..."""
    service = deps_of(context).service
    thread = f"tg-{update.effective_chat.id}"
    try:
        cmd = parse_command(update.effective_message.text or "")
        if cmd.name == "cancel":
            html = _proposal(await service.propose_cancel(thread, cmd.args["order"]))
        elif cmd.name == "modify":
            changes = {k: cmd.args[k] for k in ("sl", "tp") if k in cmd.args}
            html = _proposal(await service.propose_modify(thread, cmd.args["ticket"], changes))
        else:
            html = formatting.command(cmd.name, await service.command(cmd.name, **cmd.args))
    except CompanionError as exc:
        html = escape(exc.message)
    await answer(update, context, html)


def _proposal(reply: Reply) -> str:
    if reply.ticket is not None:
        return escape(f"Ticket {reply.ticket['id']} is waiting for your answer below.")
    return escape(reply.text or "Nothing was proposed.")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything else (questions, /buy ...) goes to the agent, in this chat's own thread."""
    chat_id = update.effective_chat.id
    try:
        reply = await deps_of(context).service.send(f"tg-{chat_id}",
                                                    update.effective_message.text or "")
        html = _proposal(reply) if reply.ticket else escape(reply.text or "Done.")
    except CompanionError as exc:
        html = escape(exc.message)
    await answer(update, context, html)
