"""/orders, /cancel, /modify, /profit and /daily with the real python-telegram-bot against a
local Bot API server on 127.0.0.1, over a companion on a stepped paper terminal (no model)."""

from __future__ import annotations

import html

import pytest

from tests.channels.test_telegram_flows import (  # noqa: F401 - server and bot are fixtures
    ME,
    bot,
    server,
    texts,
    until,
)
from tests.support.bot_api_server import BotApiServer

pytestmark = pytest.mark.slow


async def said(server: BotApiServer, fragment: str) -> str:
    """The first message to my chat with `fragment` in its text (HTML entities decoded)."""
    found = await until(server, lambda: [t for t in map(html.unescape, texts(server))
                                         if fragment in t])
    return found[0]


async def approve_ticket_message(server: BotApiServer, ticket_id: str) -> str:
    """Tap Approve on the ticket's message; the text it is edited to."""
    def find():
        return next((c for c in server.sent() if "reply_markup" in c.params
                     and ticket_id in str(c.params["reply_markup"])), None)
    call = await until(server, find)
    message_id = call.result["message_id"]
    server.callback(ME, message_id, f"tkt:approve:{ticket_id}")
    edited = await until(server, lambda: [c.params["text"] for c in server.sent("editMessageText")
                                          if str(message_id) == str(c.params["message_id"])])
    return edited[0]


async def place_from_web(companion) -> int:
    """A BUY LIMIT placed in the web's conversation; its order number."""
    ask = companion.broker.quote("EURUSD").ask
    price = round(ask - 0.003, 5)
    reply = await companion.service.send("web-1", f"/buy EURUSD 0.01 sl {price - 0.002:.5f} "
                                                  f"at {price:.5f}")
    await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="web")
    (order,) = await companion.service.orders()
    return order.ticket


async def test_pending_order_placed_in_the_web_then_listed_and_cancelled_from_telegram(
        companion, server, bot):
    order = await place_from_web(companion)
    server.message(ME, "/orders")
    listed = await said(server, "Cancel one with /cancel ORDER")
    assert f"#{order} BUY LIMIT 0.01 EURUSD" in listed

    server.message(ME, f"/cancel {order}")
    waiting = await said(server, "is waiting for your answer below")
    ticket_id = waiting.split()[1]
    card = await said(server, f"CANCEL order #{order}")
    assert "NOT sent" in card and await companion.service.orders() != []
    edited = await approve_ticket_message(server, ticket_id)

    assert f"Cancelled pending order #{order}" in edited
    assert await companion.service.orders() == []
    pushed = await said(server, "Pending order cancelled")
    assert f"#{order} EURUSD" in pushed


async def test_cancel_when_order_unknown_then_one_sentence_nothing_proposed(companion, server,
                                                                            bot):
    server.message(ME, "/cancel 424242")
    assert await said(server, "424242") == "There is no pending order #424242."
    server.message(ME, "/cancel nope")
    assert "is not an order number" in await said(server, "nope")
    assert companion.journal.rows("tickets") == []


async def test_modify_from_telegram_then_ticket_with_before_and_after_then_stops_moved(
        companion, server, bot):
    q = companion.broker.quote("EURUSD")
    reply = await companion.service.send("web-2", f"/buy EURUSD 0.1 sl {q.bid - 0.004:.5f}")
    await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="web")
    (position,) = companion.broker.positions()
    new_sl = round(position.sl + 0.001, 5)

    server.message(ME, f"/modify {position.ticket} sl {new_sl}")
    waiting = await said(server, "is waiting for your answer below")
    card = await said(server, f"MODIFY #{position.ticket}")
    assert f"{position.sl:.5f} -> {new_sl:.5f}" in card
    edited = await approve_ticket_message(server, waiting.split()[1])

    assert f"Modified position #{position.ticket}" in edited
    assert companion.broker.positions()[0].sl == new_sl
    server.message(ME, f"/modify {position.ticket} sl nan")
    assert "'nan' is not a price for the stop-loss" in await said(server, "nan")


async def test_profit_and_daily_then_cards_in_account_currency(companion, server, bot):
    server.message(ME, "/profit")
    assert "P/L all (USD)" in await said(server, "P/L all") and "No closed trades" in \
        await said(server, "P/L all")
    server.message(ME, "/daily 3")
    daily = await said(server, "P/L per day")
    assert "(USD)" in daily and "over 0 trades" in daily
    server.message(ME, "/profit decade")
    assert await said(server, "DECADE") == ("'DECADE' is neither a period (today, week, month, "
                                            "all) nor a symbol this terminal knows or traded.")
