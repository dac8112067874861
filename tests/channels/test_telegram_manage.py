"""/close, /closeall, /be, /trail and /modify of a pending order with the real
python-telegram-bot against a local Bot API server on 127.0.0.1: each proposal is a ticket with
Approve / Reject buttons, nothing moves before Approve; a trailing stop's moves are pushed."""

from __future__ import annotations

import pytest

from agent.trailing_job import TrailingJob
from tests.channels.test_telegram_flows import (  # noqa: F401 - server and bot are fixtures
    ME,
    bot,
    server,
    until,
)
from tests.channels.test_telegram_orders import approve_ticket_message, place_from_web, said

pytestmark = pytest.mark.slow


async def open_from_web(companion, side: str = "buy", volume: float = 0.1):
    q = companion.broker.quote("EURUSD")
    sl = q.bid - 0.004 if side == "buy" else q.ask + 0.004
    reply = await companion.service.send(f"web-{side}", f"/{side} EURUSD {volume} sl {sl:.5f}")
    await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="web")
    return max(companion.broker.positions(), key=lambda p: p.ticket)


async def proposed(server, fragment: str) -> tuple[str, str]:
    """The ticket id the bot says waits, and the card holding `fragment`."""
    waiting = await said(server, "is waiting for your answer below")
    return waiting.split()[1], await said(server, fragment)


async def test_closeall_then_one_card_listing_each_then_all_closed(companion, server, bot):
    first = await open_from_web(companion)
    second = await open_from_web(companion, "sell", 0.02)
    server.message(ME, "/closeall EURUSD")
    ticket_id, card = await proposed(server, "CLOSE ALL EURUSD: 2 positions")
    assert f"#{first.ticket} EURUSD 0.10 lots" in card and f"#{second.ticket}" in card
    assert len(companion.broker.positions()) == 2
    edited = await approve_ticket_message(server, ticket_id)
    assert "Closed 2 of 2 positions." in edited
    assert companion.broker.positions() == []


async def test_close_part_then_the_rest_stays(companion, server, bot):
    position = await open_from_web(companion)
    server.message(ME, f"/close {position.ticket} 0.04")
    ticket_id, card = await proposed(server, f"CLOSE #{position.ticket} 0.04 lots EURUSD")
    assert "P/L now" in card
    await approve_ticket_message(server, ticket_id)
    assert companion.broker.positions()[0].volume == pytest.approx(0.06)


async def test_trail_then_ticket_then_moves_pushed(companion, server, bot):
    position = await open_from_web(companion)
    server.message(ME, f"/trail {position.ticket} 10 pips")
    ticket_id, card = await proposed(server, f"TRAIL #{position.ticket} EURUSD")
    assert "10.0 pips" in card
    edited = await approve_ticket_message(server, ticket_id)
    assert "Trailing stop on position" in edited
    moves = TrailingJob(companion.deps.executor).step()  # the stop is 40 pips away: it moves
    assert moves and moves[0]["sl"] > position.sl
    pushed = await said(server, "Trailing stop moved")
    assert f"#{position.ticket} EURUSD" in pushed
    server.message(ME, "/trails")
    listed = await said(server, "behind the price, moved once")
    assert listed.startswith(f"#{position.ticket} EURUSD BUY: stop 0.001 behind")
    server.message(ME, f"/untrail {position.ticket}")
    assert "its stop stays where it is" in await said(server, "Stopped:")


async def test_be_under_water_then_the_reason_and_no_ticket(companion, server, bot):
    position = await open_from_web(companion)
    server.message(ME, f"/be {position.ticket}")
    denied = await said(server, "DENIED")
    assert "stop-loss must be below the price now" in denied
    assert companion.journal.rows("tickets", "status = ?", ["pending"]) == []


async def test_modify_pending_order_price_then_moved(companion, server, bot):
    order = await place_from_web(companion)
    (before,) = await companion.service.orders()
    price = round(before.price_open - 0.0005, 5)
    server.message(ME, f"/modify {order} at {price:.5f}")
    ticket_id, card = await proposed(server, f"MODIFY order #{order} BUY LIMIT")
    assert f"{before.price_open:.5f} -> {price:.5f}" in card
    await approve_ticket_message(server, ticket_id)
    (now,) = await companion.service.orders()
    assert now.price_open == price


async def test_positions_buttons_then_close_tap_proposes_a_ticket_then_approve_closes(
        companion, server, bot):
    position = await open_from_web(companion)
    server.message(ME, "/positions")
    call = await until(server, lambda: next((c for c in server.sent()
                                             if "reply_markup" in c.params and
                                             f"pos:close:{position.ticket}" in
                                             str(c.params["reply_markup"])), None))
    assert f"pos:be:{position.ticket}" in str(call.params["reply_markup"])
    server.callback(ME, call.result["message_id"], f"pos:close:{position.ticket}")
    ticket_id, card = await proposed(server, f"CLOSE #{position.ticket} 0.10 lots EURUSD")
    assert companion.broker.positions() != []  # a ticket, nothing sent
    await approve_ticket_message(server, ticket_id)
    assert companion.broker.positions() == []


async def test_breakeven_tap_under_water_then_the_reason(companion, server, bot):
    position = await open_from_web(companion)
    server.message(ME, "/positions")
    call = await until(server, lambda: next((c for c in server.sent()
                                             if "reply_markup" in c.params and
                                             f"pos:be:{position.ticket}" in
                                             str(c.params["reply_markup"])), None))
    server.callback(ME, call.result["message_id"], f"pos:be:{position.ticket}")
    assert "stop-loss must be below the price now" in await said(server, "DENIED")
    server.callback(ME, call.result["message_id"], "pos:close:999999")
    assert await said(server, "999999") == "There is no open position #999999."
