"""Telegram pushes what happens in another process on the same data dir (the runner of the
runtime, e.g. `companion chat`), through the relay: the real bot against the local Bot API
server on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from agent.events import EventBus, EventType
from agent.store import Journal
from tests.channels.test_telegram_flows import ME, STRANGER, bot, server, texts, until  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture
async def relayed(companion):
    """The bot's companion follows the journal (as a follower runtime does); yields the bus of
    "another process" on the same journal file."""
    relay = asyncio.create_task(companion.events.relay(0.02))
    await asyncio.sleep(0.1)  # the relay has read the journal's end
    other = Journal(companion.journal.path)
    yield EventBus(other)
    relay.cancel()
    await asyncio.gather(relay, return_exceptions=True)
    other.close()


async def test_stop_out_and_pending_trigger_in_another_process_then_pushed_to_allowed_chat(
        companion, server, bot, relayed):
    relayed.publish(EventType.PENDING_TRIGGERED, {
        "order": 41, "symbol": "EURUSD", "type": "buy_limit", "volume": 0.05,
        "price_open": 1.112, "sl": 1.1, "tp": None, "state": "filled", "price": 1.11198,
        "position": 41})
    relayed.publish(EventType.STOP_OUT, {
        "position": 41, "symbol": "EURUSD", "side": "buy", "volume": 0.05,
        "price_open": 1.11198, "price_close": 1.0611, "profit": -2544.0, "reason": "so"})
    await until(server, lambda: len(texts(server)) >= 2)
    await asyncio.sleep(0.2)  # a double delivery would show now
    pending, stopped = texts(server)
    assert "Pending order triggered" in pending and "#41 BUY LIMIT 0.05 EURUSD" in pending
    assert "filled at 1.11198" in pending
    assert "Stopped out" in stopped and "-2,544.00" in stopped
    assert texts(server, STRANGER) == []
