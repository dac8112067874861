"""Breakeven, trailing stops, partial closes, close-all and pending-order changes end to end
in command mode (no model): the service proposes, the risk gate mints one ticket, the trader
confirms, the execute step sends (each close of a close-all once; a trailing rule's moves by
the runtime's job), the paper terminal changes, events are published (issue #14 item 2)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from agent.domain import CompanionError
from agent.events import EventType
from agent.graph.render import order_title
from agent.trailing_job import TrailingJob
from tests.graph.test_trade_management import open_buy, place_buy_limit

THREAD = "t-manage-more"


async def drained(sub) -> list:
    await asyncio.sleep(0)  # events published from this thread arrive through the loop
    seen = []
    while not sub.queue.empty():
        seen.append(sub.queue.get_nowait())
    return seen


def title(reply) -> str:
    """The ticket's title, as every channel shows it."""
    assert reply.ticket is not None, reply.text
    return order_title(reply.ticket["order"], reply.ticket["figures"])


async def approve(companion, reply):
    assert reply.ticket is not None, reply.text
    return await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="test")


async def test_partial_close_when_volume_on_step_then_half_closed_with_pnl_on_the_ticket(
        companion):
    pos = await open_buy(companion)
    reply = await companion.service.propose_close(THREAD, pos.ticket, 0.05)
    assert f"CLOSE #{pos.ticket} 0.05 lots EURUSD (P/L now " in title(reply)
    done = await approve(companion, reply)
    (left,) = companion.broker.positions()
    assert left.volume == pytest.approx(0.05)
    (deal,) = [d for d in companion.broker.history(pos.time, companion.desk.market_time())
               if d.entry == "out"]
    assert done.text.endswith(f" Closed with P/L {deal.profit:+,.2f} USD.")


async def test_partial_close_when_volume_off_step_then_denied_nothing_sent(companion):
    pos = await open_buy(companion)
    reply = await companion.service.send(THREAD, f"/close {pos.ticket} 0.055")
    assert reply.ticket is None and "lot step" in reply.text
    assert companion.broker.positions()[0].volume == pytest.approx(0.1)


async def test_close_all_then_one_ticket_listing_each_and_each_closed_once(companion):
    first = await open_buy(companion, "t-a")
    q = companion.broker.quote("EURUSD")
    sold = await companion.service.send("t-b", f"/sell EURUSD 0.02 sl {q.ask + 0.004:.5f}")
    await approve(companion, sold)
    second = next(p for p in companion.broker.positions() if p.ticket != first.ticket)
    events = companion.events.subscribe()

    reply = await companion.service.propose_close_all(THREAD)
    order = reply.ticket["order"]
    assert order["kind"] == "close_all" and [leg["position_ticket"] for leg in order["legs"]] \
        == sorted([first.ticket, second.ticket])
    assert "CLOSE ALL: 2 positions (P/L now " in title(reply)
    assert f"#{first.ticket} EURUSD 0.10 lots" in title(reply)
    assert len(companion.broker.positions()) == 2  # nothing sent before the confirmation

    done = await approve(companion, reply)
    assert companion.broker.positions() == []
    assert done.text.startswith("Closed 2 of 2 positions.") and ", P/L " in done.text
    rows = companion.journal.rows("orders", "ticket_id = ?", [reply.ticket["id"]])
    assert sorted(r["idempotency_key"][-2:] for r in rows) == ["-1", "-2"]
    fills = [e for e in await drained(events) if e.type is EventType.ORDER_FILLED]
    assert {e.payload["position"] for e in fills} == {first.ticket, second.ticket}
    events.close()


async def test_close_all_of_a_symbol_with_no_position_then_refused(companion):
    with pytest.raises(CompanionError) as err:
        await companion.service.propose_close_all(THREAD, "EURUSD")
    assert err.value.code == "no_positions"
    reply = await companion.service.send(THREAD, "/closeall")
    assert reply.ticket is None and "no open position" in reply.text


async def test_close_all_when_a_position_closed_before_the_confirmation_then_the_rest_closed(
        companion):
    first = await open_buy(companion, "t-a")
    q = companion.broker.quote("EURUSD")
    await approve(companion, await companion.service.send(
        "t-b", f"/sell EURUSD 0.02 sl {q.ask + 0.004:.5f}"))
    reply = await companion.service.propose_close_all(THREAD)
    await approve(companion, await companion.service.propose_close("t-c", first.ticket))
    done = await approve(companion, reply)
    assert companion.broker.positions() == []
    assert done.text.startswith("Closed 1 of 2 positions.")
    assert f"#{first.ticket} EURUSD: not closed" in done.text


async def test_breakeven_when_in_profit_then_stop_moves_to_the_open_price(companion):
    q = companion.broker.quote("EURUSD")
    for side, sl in (("buy", q.bid - 0.015), ("sell", q.ask + 0.015)):
        await approve(companion, await companion.service.send(
            f"t-{side}", f"/{side} EURUSD 0.01 sl {sl:.5f}"))
    paper, winner = companion.terminal.wrapped, None
    while winner is None:  # one of the two gains 5 pips before either loses 150
        paper.step(1)
        winner = next((p for p in companion.broker.positions()
                       if p.side.sign * (p.price_current - p.price_open) > 0.0005), None)
    reply = await companion.service.propose_breakeven(THREAD, winner.ticket)
    assert f"MODIFY #{winner.ticket} EURUSD: SL " in title(reply)
    assert "at the stop +0.00 USD" in title(reply)
    await approve(companion, reply)
    now = next(p for p in companion.broker.positions() if p.ticket == winner.ticket)
    assert now.sl == pytest.approx(winner.price_open)
    with pytest.raises(CompanionError):
        await companion.service.propose_breakeven(THREAD, 999_999)
    again = await companion.service.send(THREAD, f"/be {winner.ticket}")
    assert again.ticket is None and "already at or past its open price" in again.text


async def test_breakeven_when_price_under_the_open_then_denied(companion):
    pos = await open_buy(companion)  # a buy fills at the ask: the bid is under the open
    reply = await companion.service.send(THREAD, f"/be {pos.ticket}")
    assert reply.ticket is None and "DENIED" in reply.text
    assert companion.broker.positions()[0].sl == pos.sl


async def test_trail_confirmed_once_then_the_job_moves_the_stop_only_toward_profit(companion):
    pos = await open_buy(companion)
    events = companion.events.subscribe()
    reply = await companion.service.propose_trail(THREAD, pos.ticket, 10, "pips")
    assert reply.ticket["order"]["trail"] == pytest.approx(0.001)
    assert f"TRAIL #{pos.ticket} EURUSD: stop 10.0 pips (0.00100) behind the price" in \
        title(reply)
    done = await approve(companion, reply)
    assert "Trailing stop on position" in done.text
    assert [r.position for r in await companion.service.trails()] == [pos.ticket]

    job, paper, stops = TrailingJob(companion.deps.executor), companion.terminal.wrapped, []
    for _ in range(400):
        job.step()
        now = companion.broker.positions()
        if not now:
            break
        stops.append(now[0].sl)
        paper.step(1)
    moved = [e for e in await drained(events) if e.type is EventType.TRAIL_MOVED]
    assert all(b >= a for a, b in itertools.pairwise(stops))  # only ever up
    assert moved, "the price never rose 10 pips above the stop in the replay"
    assert all(e.payload["sl"] > (e.payload["sl_before"] or 0) for e in moved)
    rows = companion.journal.rows("orders", "ticket_id = ?", [reply.ticket["id"]])
    assert len(rows) == len(moved) and all(r["idempotency_key"].startswith("trl-") for r in rows)
    if not companion.broker.positions():  # stopped out: the rule ends at the next look
        job.step()
        assert await companion.service.trails() == []
    events.close()


async def test_trail_stopped_by_the_trader_then_no_more_moves(companion):
    pos = await open_buy(companion)
    await approve(companion, await companion.service.propose_trail(THREAD, pos.ticket, 0.002,
                                                                   "price"))
    ended = await companion.service.stop_trail(pos.ticket)
    assert ended.status == "ended" and await companion.service.trails() == []
    with pytest.raises(CompanionError):
        await companion.service.stop_trail(pos.ticket)


async def test_trail_when_inside_the_stops_level_or_a_bad_unit_then_refused(companion):
    pos = await open_buy(companion)
    with pytest.raises(CompanionError):
        await companion.service.propose_trail(THREAD, pos.ticket, 10, "miles")
    with pytest.raises(CompanionError):
        await companion.service.propose_trail(THREAD, 999_999, 10)
    with pytest.raises(CompanionError):
        await companion.service.propose_trail(THREAD, pos.ticket, 0)


async def test_pending_order_modified_then_its_price_and_stop_change(companion):
    order = await place_buy_limit(companion)
    price, sl = round(order.price_open - 0.0005, 5), round(order.sl - 0.0005, 5)
    reply = await companion.service.propose_modify_order(THREAD, order.ticket,
                                                         {"price": price, "sl": sl})
    assert (f"MODIFY order #{order.ticket} BUY LIMIT 0.01 EURUSD: price "
            f"{order.price_open:.5f} -> {price:.5f}, SL {order.sl:.5f} -> {sl:.5f}") in \
        title(reply)
    done = await approve(companion, reply)
    assert done.text.startswith(f"Modified pending order #{order.ticket}")
    (now,) = await companion.service.orders()
    assert (now.price_open, now.sl) == (price, sl)


async def test_pending_order_modify_when_unknown_or_nothing_then_refused(companion):
    order = await place_buy_limit(companion)
    with pytest.raises(CompanionError):
        await companion.service.propose_modify_order(THREAD, 424242, {"price": 1.0})
    with pytest.raises(CompanionError):
        await companion.service.propose_modify_order(THREAD, order.ticket, {})
    reply = await companion.service.send(THREAD, f"/modify {order.ticket} at "
                                                 f"{order.price_open + 0.01:.5f}")
    assert reply.ticket is None and "BUY STOP" in reply.text  # it would change type


async def test_modify_a_position_with_a_price_then_refused(companion):
    pos = await open_buy(companion)
    reply = await companion.service.send(THREAD, f"/modify {pos.ticket} at 1.1")
    assert reply.ticket is None and "entry price cannot change" in reply.text


async def test_trails_listed_and_untrail_in_chat_then_rule_ends(companion):
    pos = await open_buy(companion)
    assert (await companion.service.send(THREAD, "/trails")).text == "No trailing stops."
    await approve(companion, await companion.service.send(THREAD, f"/trail {pos.ticket} 12"))
    TrailingJob(companion.deps.executor).step()
    listed = (await companion.service.send(THREAD, "/trails")).text
    assert listed.startswith(f"#{pos.ticket} EURUSD BUY: stop 0.0012 behind the price, moved "
                             "once, last to ")
    stopped = await companion.service.send(THREAD, f"/untrail {pos.ticket}")
    assert stopped.text.startswith(f"Stopped: #{pos.ticket} EURUSD BUY")
    again = await companion.service.send(THREAD, f"/untrail {pos.ticket}")
    assert again.text == f"Position #{pos.ticket} has no trailing stop."
