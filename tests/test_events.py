import asyncio
from datetime import timedelta

from agent import events
from agent.events import EventBus, EventType
from agent.store import Journal


async def test_event_published_from_a_worker_thread_then_delivered_and_journaled(tmp_path):
    journal = Journal(tmp_path / "j.db")
    bus = EventBus(journal)
    sub = bus.subscribe([EventType.ORDER_FILLED])
    await asyncio.to_thread(bus.publish, EventType.ORDER_FILLED, {"ticket_id": "t1"})
    bus.publish(EventType.ALERT_FIRED, {"alert": "a1"})  # not subscribed: not delivered
    event = await asyncio.wait_for(sub.get(), 2)
    assert event.type is EventType.ORDER_FILLED and event.payload == {"ticket_id": "t1"}
    assert sub.queue.empty()
    assert [r["type"] for r in journal.rows("events", order_by="time")] == [
        "order_filled", "alert_fired"]


async def test_lagging_subscriber_then_oldest_dropped_publisher_never_blocks():
    bus = EventBus()
    sub = bus.subscribe(maxsize=2)
    for i in range(5):
        bus.publish(EventType.ALERT_FIRED, {"n": i})
    await asyncio.sleep(0)
    got = [sub.queue.get_nowait().payload["n"] for _ in range(sub.queue.qsize())]
    assert got == [3, 4]
    sub.close()
    bus.publish(EventType.ALERT_FIRED, {"n": 9})
    await asyncio.sleep(0)
    assert sub.queue.empty()


async def test_retained_event_then_each_later_subscriber_gets_it_once_while_fresh(monkeypatch):
    bus = EventBus()
    bus.publish(EventType.ORDER_REJECTED, {"ticket_id": "t1"}, retain=True)
    bus.publish(EventType.ORDER_FILLED, {"ticket_id": "t2"})  # not retained: gone
    bot = bus.subscribe()
    page = bus.subscribe([EventType.ORDER_REJECTED])
    other = bus.subscribe([EventType.ALERT_FIRED])
    assert [e.payload for e in (bot.queue.get_nowait(), page.queue.get_nowait())] == [
        {"ticket_id": "t1"}, {"ticket_id": "t1"}]
    assert bot.queue.empty() and page.queue.empty() and other.queue.empty()
    monkeypatch.setattr(events, "RETAIN", timedelta(0))  # as if RETAIN had passed
    assert bus.subscribe().queue.empty()
