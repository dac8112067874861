"""The trading desk's buttons (`Trading desk.jsx`): Close, Close part, Modify SL/TP, Breakeven
and Trail on a position card, Close all over the positions, Cancel on a pending order, Resume,
and the equity curve.

Each trade button proposes a ticket in this conversation through the service's proposal
methods: the risk gate's ticket appears as a card with Approve / Reject (or its denial as a
message), and nothing is sent before the trader approves that ticket. What the trader typed
into a card's form is checked here first; a refusal changes nothing.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import chainlit as cl

from agent.domain import CompanionError
from agent.service import CompanionService, Reply
from agent.tools.jsonable import to_jsonable
from channels.web import cards, charts
from channels.web.session import WebSession

EQUITY_DAYS = 30  # the desk's equity curve
SessionOf = Callable[[], Awaitable[WebSession | None]]
Proposal = Callable[[CompanionService, str, dict[str, Any]], Awaitable[Reply]]


def ticket_number(payload: dict[str, Any]) -> int:
    """The position or order number a button carries."""
    value = payload.get("ticket")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CompanionError("bad_ticket", "That card names no position or order; reload the "
                             "page and try again.")
    return value


def level(text: Any, name: str) -> float | None:
    """A new SL or TP typed into a card: a positive price, or empty for none."""
    word = str(text if text is not None else "").strip()
    if not word:
        return None
    return _positive(word, "bad_price", f"'{word}' is not a price for the {name}: use a "
                     "positive number such as 1.1050, or leave it empty for none.")


def pips(text: Any) -> float:
    """A trailing distance typed into a card, in pips."""
    word = str(text if text is not None else "").strip()
    return _positive(word, "bad_distance", f"'{word}' is not a trailing distance: use a "
                     "number of pips above zero, such as 20.")


def volume(text: Any) -> float:
    """The lots typed into a card to close part of a position (the service checks them
    against the position and the symbol's lot step)."""
    word = str(text if text is not None else "").strip()
    said = f"'{word}' is not a number of lots" if word else "No lots were given"
    return _positive(word, "bad_volume", f"{said} to close: type the lots as a number above "
                     "zero, such as 0.05.")


def _positive(word: str, code: str, sentence: str) -> float:
    """`word` as a finite number above zero, or `CompanionError(code, sentence)`."""
    try:
        value = float(word)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise CompanionError(code, sentence)
    return value


async def show_reply(reply: Reply, web: WebSession) -> None:
    """What a proposal came back with: the gate's words, then the ticket card to answer."""
    for text in reply.messages:
        if text:
            await cl.Message(text).send()
    if reply.ticket is not None:
        await web.show_ticket(reply.ticket)


#: Action names are what the page names a conversation a button started.
PROPOSALS: dict[str, Proposal] = {
    "Close position": lambda s, thread, p: s.propose_close(thread, ticket_number(p)),
    "Close part of position": lambda s, thread, p: s.propose_close(
        thread, ticket_number(p), volume(p.get("volume"))),
    "Close all positions": lambda s, thread, p: s.propose_close_all(thread, None),
    "Modify SL/TP": lambda s, thread, p: s.propose_modify(
        thread, ticket_number(p), {"sl": level(p.get("sl"), "stop-loss"),
                                   "tp": level(p.get("tp"), "take-profit")}),
    "Move stop to breakeven": lambda s, thread, p: s.propose_breakeven(thread, ticket_number(p)),
    "Trailing stop": lambda s, thread, p: s.propose_trail(thread, ticket_number(p),
                                                       pips(p.get("pips")), "pips"),
    "Cancel pending order": lambda s, thread, p: s.propose_cancel(thread, ticket_number(p)),
}


def register(session_of: SessionOf) -> None:
    """Register the desk's action callbacks; `session_of` gives the page's WebSession."""

    def proposing(name: str, propose: Proposal) -> None:
        async def callback(action: cl.Action) -> None:
            web = await session_of()
            if web is None:
                return
            try:
                reply = await propose(web.service, web.thread_id, action.payload)
            except Exception as exc:
                await cl.ErrorMessage(cards.error_text(exc)).send()
            else:
                await show_reply(reply, web)
            await web.show_state()
        cl.action_callback(name)(callback)

    for name, propose in PROPOSALS.items():
        proposing(name, propose)

    @cl.action_callback("Resume trading")
    async def resume(action: cl.Action) -> None:
        web = await session_of()
        if web is None:
            return
        try:
            state = await web.service.resume(by="web")
        except Exception as exc:
            await cl.ErrorMessage(cards.error_text(exc)).send()
        else:
            await cl.Message(f"Trading state: **{state.trading_state.value}**. New orders go "
                             "to the risk engine again.").send()
        await web.show_state()

    @cl.action_callback("Equity curve")
    async def equity(action: cl.Action) -> None:
        web = await session_of()
        if web is None:
            return
        try:
            report = to_jsonable(await web.service.daily(EQUITY_DAYS))
            figure = await asyncio.to_thread(charts.equity_curve, report)
        except Exception as exc:
            await cl.ErrorMessage(cards.error_text(exc)).send()
        else:
            chart = cl.Plotly(name="equity curve", figure=figure, display="inline", size="large")
            await cl.Message(f"Your balance at the end of each of the last {EQUITY_DAYS} days "
                             "(closed trades).", elements=[chart]).send()
        await web.show_state()
