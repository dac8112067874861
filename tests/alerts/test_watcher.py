"""The watcher on the paper terminal: alerts fire on real bars, closes are reported."""

from __future__ import annotations

import asyncio

import pytest

from agent.domain import CompanionError
from agent.events import EventType
from agent.market.indicators import latest


def drain(sub) -> list:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


async def step_and_check(companion, watcher, bars: int) -> list:
    fired = []
    for _ in range(bars):
        companion.terminal.wrapped.step(1)
        fired += watcher.check()
    await asyncio.sleep(0)  # deliver published events to this loop's subscribers
    return fired


async def test_price_alert_when_bid_crosses_below_then_alert_fired_once_and_retired(
        companion, watcher):
    sub = companion.events.subscribe([EventType.ALERT_FIRED])
    added = await companion.service.command("alert", symbol="EURUSD", condition="below 1.1120")
    assert added["rule"] == "EURUSD bid crosses below 1.112" and added["status"] == "active"
    assert watcher.check() == []  # 1.11442 now: nothing yet
    fired = await step_and_check(companion, watcher, 10)  # bid 1.11198 on bar 5, 1.1109 on 8
    events = drain(sub)
    assert [a.id for a in fired] == [added["id"]]
    assert [e.payload["rule"] for e in events] == ["EURUSD bid crosses below 1.112"]
    assert events[0].payload["value"] == pytest.approx(1.11198)
    assert await companion.service.command("alerts") == []
    assert companion.journal.get("alerts", added["id"])["fire_count"] == 1


async def test_indicator_alert_then_fires_on_closed_bar_value_of_the_indicator_pack(
        companion, watcher):
    added = await companion.service.command("alert", symbol="EURUSD",
                                            condition="rsi>1 H1 recurring")
    assert added["mode"] == "recurring" and "RSI(14) on H1 close > 1" in added["rule"]
    sub = companion.events.subscribe([EventType.ALERT_FIRED])
    watcher.check()
    await asyncio.sleep(0)
    (event,) = drain(sub)
    closed = companion.broker.bars("EURUSD", "H1", 600, start_pos=1)
    assert event.payload["value"] == pytest.approx(latest(closed)["rsi_14"], rel=1e-9)


async def test_cancelled_alert_then_never_fires(companion, watcher):
    added = await companion.service.command("alert", symbol="EURUSD", condition="below 1.1120")
    cancelled = await companion.service.command("cancelalert", alert_id=added["id"])
    assert cancelled["status"] == "cancelled"
    assert await step_and_check(companion, watcher, 10) == []
    with pytest.raises(CompanionError) as info:
        await companion.service.command("cancelalert", alert_id=added["id"])
    assert info.value.code == "alert_unknown"


async def test_alert_on_unknown_symbol_then_refused_and_nothing_stored(companion):
    with pytest.raises(CompanionError) as info:
        await companion.service.command("alert", symbol="XXXYYY", condition="rsi<30")
    assert info.value.code == "unknown_symbol"
    assert companion.journal.rows("alerts") == []


async def test_position_stopped_out_then_sl_hit_published_with_loss(companion, watcher):
    sub = companion.events.subscribe([EventType.SL_HIT, EventType.TP_HIT,
                                      EventType.POSITION_CLOSED, EventType.ORDER_FILLED])
    proposed = await companion.service.send("t1", "/buy EURUSD 0.1 sl 1.1100 tp 1.1220")
    await companion.service.resolve_ticket(proposed.ticket["id"], "approve", by="test")
    watcher.check()
    await step_and_check(companion, watcher, 14)  # the low of bar 13 is under 1.1100
    events = drain(sub)
    assert [e.type for e in events] == [EventType.ORDER_FILLED, EventType.SL_HIT]
    hit = events[1].payload
    assert hit["symbol"] == "EURUSD" and hit["reason"] == "sl" and hit["profit"] < 0
    assert hit["price_close"] == pytest.approx(1.11, abs=5e-4)


async def test_halt_then_risk_state_changed_published_once_where_it_changed(companion,
                                                                             watcher):
    sub = companion.events.subscribe([EventType.RISK_STATE_CHANGED])
    watcher.check()
    await companion.service.command("halt", reason="lunch")
    await asyncio.sleep(0)
    (event,) = drain(sub)  # told by the state store as it changed, before any look
    watcher.check()
    watcher.check()
    await asyncio.sleep(0)
    assert drain(sub) == []  # the runtime's looks do not tell it again
    assert event.payload["from"] == "ACTIVE" and event.payload["trading_state"] == "HALTED"
    assert event.payload["by"] == "command"


async def test_pending_order_when_market_reaches_it_then_pending_triggered_with_its_position(
        companion, watcher):
    sub = companion.events.subscribe([EventType.PENDING_TRIGGERED, EventType.PENDING_EXPIRED,
                                      EventType.POSITION_CLOSED])
    proposed = await companion.service.send("t1", "/buy EURUSD 0.05 sl 1.1000 at 1.1120")
    await companion.service.resolve_ticket(proposed.ticket["id"], "approve", by="test")
    (order,) = await companion.service.orders()
    watcher.check()  # the first look: the order is pending
    await step_and_check(companion, watcher, 8)  # the ask reaches 1.1120 within 5 bars
    (event,) = drain(sub)
    positions = companion.desk.positions()
    assert event.type is EventType.PENDING_TRIGGERED
    assert event.payload["order"] == order.ticket and event.payload["type"] == "buy_limit"
    assert event.payload["price"] == pytest.approx(1.112, abs=2e-4)
    assert [p.ticket for p in positions] == [event.payload["position"]]


async def test_position_opened_and_stopped_between_two_looks_then_sl_hit_told_once(
        companion, watcher):
    sub = companion.events.subscribe([EventType.SL_HIT, EventType.POSITION_CLOSED])
    watcher.check()  # the look before the trade
    proposed = await companion.service.send("t1", "/buy EURUSD 0.1 sl 1.1100 tp 1.1220")
    await companion.service.resolve_ticket(proposed.ticket["id"], "approve", by="test")
    companion.terminal.wrapped.step(14)  # filled and stopped out before the next look
    watcher.check()
    watcher.check()
    await asyncio.sleep(0)
    (hit,) = drain(sub)
    assert hit.type is EventType.SL_HIT and hit.payload["side"] == "buy"
    assert hit.payload["volume"] == 0.1 and hit.payload["profit"] < 0
    assert hit.payload["price_close"] == pytest.approx(1.11, abs=5e-4)
