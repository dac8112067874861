"""Pending orders, cancels and stop changes end to end in command mode (no model): the service
proposes, the risk gate decides, the trader confirms, the execute step sends once, the paper
terminal changes; and the P/L reports read what happened (issue #14 items 2 and 3)."""

from __future__ import annotations

import pytest

from agent.domain import CompanionError, OrderType
from agent.events import EventType

THREAD = "t-manage"


async def place_buy_limit(companion, thread: str = THREAD, pips: float = 30):
    """A confirmed BUY LIMIT 0.01 EURUSD `pips` under the ask; the pending order."""
    ask = companion.broker.quote("EURUSD").ask
    price = round(ask - pips / 10_000, 5)
    reply = await companion.service.send(thread, f"/buy EURUSD 0.01 sl {price - 0.002:.5f} "
                                                 f"at {price:.5f}")
    assert reply.ticket["figures"]["order_type"] == "buy_limit"
    done = await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="test")
    assert done.text.startswith(f"Pending order placed: BUY LIMIT 0.01 EURUSD @ {price:.5f}")
    (order,) = await companion.service.orders()
    return order


async def open_buy(companion, thread: str = THREAD):
    q = companion.broker.quote("EURUSD")
    reply = await companion.service.send(
        thread, f"/buy EURUSD 0.1 sl {q.bid - 0.004:.5f} tp {q.ask + 0.008:.5f}")
    await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="test")
    (position,) = companion.broker.positions()
    return position


async def test_pending_order_placed_listed_then_cancelled_end_to_end(companion):
    order = await place_buy_limit(companion)
    assert (order.type, order.volume) == (OrderType.BUY_LIMIT, 0.01)
    listed = await companion.service.send(THREAD, "/orders")
    assert listed.text.startswith(f"#{order.ticket} BUY LIMIT 0.01 EURUSD at {order.price_open:g}")
    events = companion.events.subscribe()

    proposed = await companion.service.propose_cancel("t-other", order.ticket)
    ticket = proposed.ticket
    assert ticket["order"]["kind"] == "cancel" and ticket["order"]["order_ticket"] == order.ticket
    assert await companion.service.orders() == [order]  # nothing sent before the confirmation
    done = await companion.service.resolve_ticket(ticket["id"], "approve", by="test")

    assert done.text == (f"Cancelled pending order #{order.ticket} (BUY LIMIT 0.01 EURUSD @ "
                         f"{order.price_open:.5f}); ticket {ticket['id']}.")
    assert await companion.service.orders() == []
    (row,) = companion.journal.rows("orders", "ticket_id = ?", [ticket["id"]])
    assert row["outcome"] == "done" and row["order_ticket"] == order.ticket
    seen = []
    while not events.queue.empty():
        seen.append(events.queue.get_nowait())
    (cancelled,) = [e for e in seen if e.type is EventType.ORDER_CANCELLED]
    assert cancelled.payload["order"] == order.ticket and cancelled.payload["kind"] == "cancel"
    events.close()


async def test_cancel_ticket_when_rejected_then_order_stays(companion):
    order = await place_buy_limit(companion)
    proposed = await companion.service.send(THREAD, f"/cancel {order.ticket}")
    await companion.service.resolve_ticket(proposed.ticket["id"], "reject", by="test")
    assert await companion.service.orders() == [order]


async def test_cancel_when_order_filled_before_the_confirmation_then_blocked_nothing_sent(
        companion):
    order = await place_buy_limit(companion, pips=2)
    proposed = await companion.service.send(THREAD, f"/cancel {order.ticket}")
    paper = companion.terminal.wrapped
    for _ in range(300):
        if not paper.orders_get():
            break
        paper.step(1)
    assert not paper.orders_get()
    done = await companion.service.resolve_ticket(proposed.ticket["id"], "approve", by="test")
    assert "There is no pending order" in done.text
    assert companion.service.tickets.get(proposed.ticket["id"]).status == "blocked"


async def test_cancel_when_order_unknown_then_one_sentence_and_nothing_changed(companion):
    await place_buy_limit(companion)
    with pytest.raises(CompanionError) as err:
        await companion.service.propose_cancel(THREAD, 424242)
    assert (err.value.code, err.value.message) == ("order_unknown",
                                                   "There is no pending order #424242.")
    chat = await companion.service.send(THREAD, "/cancel 424242")
    assert "There is no pending order #424242." in chat.text and chat.ticket is None
    assert companion.journal.rows("tickets", "status = ?", ["pending"]) == []


async def test_modify_stop_closer_then_ticket_says_before_and_after_and_position_changes(
        companion):
    position = await open_buy(companion)
    new_sl = round(position.sl + 0.001, 5)
    proposed = await companion.service.propose_modify(THREAD, position.ticket, {"sl": new_sl})
    figures = proposed.ticket["figures"]
    assert (figures["sl_before"], proposed.ticket["order"]["sl"]) == (position.sl, new_sl)
    assert companion.broker.positions()[0].sl == position.sl
    done = await companion.service.resolve_ticket(proposed.ticket["id"], "approve", by="test")
    assert done.text.startswith(f"Modified position #{position.ticket} EURUSD: SL "
                                f"{position.sl:.5f} -> {new_sl:.5f}, TP {position.tp:.5f} "
                                "(unchanged) (P/L now ")
    assert done.text.endswith(f" USD); ticket {proposed.ticket['id']}.")
    assert f"at the stop {figures['profit_at_sl']:+,.2f} USD" in done.text
    (now,) = companion.broker.positions()
    assert (now.sl, now.tp) == (new_sl, position.tp)


async def test_modify_when_stop_widened_past_the_limit_then_denied_nothing_changed(companion):
    position = await open_buy(companion)
    reply = await companion.service.send(THREAD, f"/modify {position.ticket} sl "
                                                 f"{position.sl - 0.02:.5f}")
    assert reply.ticket is None and reply.text.startswith("DENIED by the risk engine")
    assert "risk_per_trade" in [v["code"] for v in reply.data[-1]["decision"]["verdicts"]
                                if not v["passed"]]
    assert companion.broker.positions()[0].sl == position.sl


@pytest.mark.parametrize("changes, code", [
    ({"sl": float("nan")}, "bad_price"), ({"tp": -1.0}, "bad_price"), ({}, "nothing_to_modify"),
    ({"price": 1.0}, "nothing_to_modify"),
])
async def test_modify_when_bad_levels_then_one_sentence_nothing_proposed(companion, changes,
                                                                          code):
    position = await open_buy(companion)
    with pytest.raises(CompanionError) as err:
        await companion.service.propose_modify(THREAD, position.ticket, changes)
    assert err.value.code == code
    assert companion.journal.rows("tickets", "status = ?", ["pending"]) == []


async def test_modify_when_position_unknown_then_one_sentence(companion):
    with pytest.raises(CompanionError) as err:
        await companion.service.propose_modify(THREAD, 5, {"sl": 1.1})
    assert err.value.code == "position_unknown"
    chat = await companion.service.send(THREAD, "/modify 5 sl 1.1")
    assert "There is no open position or pending order #5." in chat.text


async def test_modify_without_levels_in_chat_then_usage(companion):
    position = await open_buy(companion)
    reply = await companion.service.send(THREAD, f"/modify {position.ticket}")
    assert reply.text.startswith("Usage: /modify POSITION")


async def test_pending_ticket_when_price_crossed_its_entry_then_blocked_at_recheck(companion):
    ask = companion.broker.quote("EURUSD").ask
    price = round(ask - 0.0002, 5)
    proposed = await companion.service.send(THREAD, f"/buy EURUSD 0.01 sl {price - 0.003:.5f} "
                                                    f"at {price:.5f}")
    assert proposed.ticket["figures"]["order_type"] == "buy_limit"
    paper = companion.terminal.wrapped
    for _ in range(300):
        if companion.broker.quote("EURUSD").ask < price:
            break
        paper.step(1)
    done = await companion.service.resolve_ticket(proposed.ticket["id"], "approve", by="test")
    assert "this would now be a BUY STOP, not the BUY LIMIT you approved" in done.text
    assert await companion.service.orders() == []


async def test_profit_and_daily_when_trades_closed_then_reported_in_account_currency(companion):
    position = await open_buy(companion)
    reply = await companion.service.send(THREAD, f"/close {position.ticket}")
    await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="test")
    report = await companion.service.profit("today")
    (deal,) = [d for d in companion.broker.history(report.start, report.end) if d.entry == "out"]
    assert report.currency == "USD" and report.stats.trades == 1
    assert report.stats.net == round(deal.profit, 2)
    assert report.stats.r_trades == 1 and report.stats.avg_r is not None
    assert [s.symbol for s in report.symbols] == ["EURUSD"]
    daily = await companion.service.daily(3)
    assert daily.days[0].net == report.stats.net and daily.trades == 1
    text = (await companion.service.send(THREAD, "/profit today")).text
    assert text.startswith(f"P/L today: net {report.stats.net:+,.2f} USD over 1 trade")
    assert "P/L per day, last 2 days" in (await companion.service.send(THREAD, "/daily 2")).text


async def test_profit_when_no_trades_then_says_so(companion):
    assert (await companion.service.send(THREAD, "/profit")).text == (
        "P/L all history: no closed trades.")
    with pytest.raises(CompanionError) as err:
        await companion.service.profit("decade")
    assert err.value.code == "bad_period"
    with pytest.raises(CompanionError):
        await companion.service.daily(0)


async def test_profit_when_the_terminal_cannot_price_a_stop_then_no_r_for_that_trade(
        companion, monkeypatch):
    position = await open_buy(companion)
    reply = await companion.service.send(THREAD, f"/close {position.ticket}")
    await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="test")

    def gone(*args):
        raise CompanionError("unknown_symbol", "'EURUSD' is not a symbol this terminal knows.")
    monkeypatch.setattr(companion.broker, "calc_profit", gone)
    report = await companion.service.profit("all")
    assert report.stats.trades == 1 and report.stats.r_trades == 0 and report.stats.avg_r is None
