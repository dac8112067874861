"""Command and free-text handlers: parse, call the service, render."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from agent.domain import CompanionError
from agent.service import Reply
from agent.tools.commands import parse_command
from channels.telegram import formatting, positions
from channels.telegram.deps import answer, deps_of, send, send_photo
from channels.telegram.equity import caption, equity_png

#: Commands the bot answers itself: read-only ones (and halt/resume, alerts), and the
#: proposals that manage a trade (cancel, modify, close, close-all, breakeven, trailing stop;
#: their ticket follows, with Approve / Reject buttons).
COMMANDS = ("status", "positions", "orders", "account", "price", "analyze", "profit", "daily",
            "alerts", "alert", "cancelalert", "cancel", "modify", "close", "closeall", "be",
            "trail", "trails", "untrail", "halt", "resume", "help", "equity")


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/status, /price EURUSD, /orders, /cancel 123, /modify 456 sl 1.1050, /close 456 0.05,
    /closeall, /be 456, /trail 456 20 pips, /profit week, ..."""
    service = deps_of(context).service
    thread = f"tg-{update.effective_chat.id}"
    chart: bytes | None = None
    markup = None
    try:
        cmd = parse_command(update.effective_message.text or "")
        if cmd.proposes_order and cmd.name in _PROPOSALS:
            html = _proposal(await _PROPOSALS[cmd.name](service, thread, cmd.args))
        else:
            data = await service.command(cmd.name, **cmd.args)
            html = formatting.command(cmd.name, data)
            if cmd.name == "profit":
                chart = await asyncio.to_thread(equity_png, data)
            if cmd.name == "positions":  # Close / Breakeven under each position
                markup = positions.buttons(data)
    except CompanionError as exc:
        html = escape(exc.message)
    if markup is None:
        await answer(update, context, html)
    else:
        await send(deps_of(context), context.bot, update.effective_chat.id, html,
                   markup=markup, label="reply")
    if chart is not None:  # the equity curve follows the figures
        await send_photo(deps_of(context), context.bot, update.effective_chat.id, chart,
                         caption(data), label="equity")


_PROPOSALS: dict[str, Callable[[Any, str, dict[str, Any]], Awaitable[Reply]]] = {
    "cancel": lambda s, thread, a: s.propose_cancel(thread, a["order"]),
    "modify": lambda s, thread, a: s.propose_change(thread, a["ticket"], {
        k: a[k] for k in ("price", "sl", "tp") if k in a}),
    "close": lambda s, thread, a: s.propose_close(thread, a["ticket"], a["volume"]),
    "closeall": lambda s, thread, a: s.propose_close_all(thread, a["symbol"]),
    "be": lambda s, thread, a: s.propose_breakeven(thread, a["ticket"]),
    "trail": lambda s, thread, a: s.propose_trail(thread, a["ticket"], a["distance"],
                                                  a["unit"]),
}


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
