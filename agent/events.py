"""The in-process event bus: what happened, told to every channel that listens.

`publish` may be called from any thread (graph nodes run in worker threads) and journals the
event first, so an event is never lost because no channel was listening. Subscribers are
asyncio queues owned by their event loop; a slow subscriber's full queue drops its oldest
event rather than blocking the publisher. An event published with `retain=True` (what start-up
found, before any channel listened) is also handed to each channel that subscribes within
`RETAIN` of it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from agent.store import Journal, new_id

log = logging.getLogger(__name__)
RETAIN = timedelta(minutes=10)


class EventType(StrEnum):
    TICKET_PENDING = "ticket_pending"
    TICKET_CONFIRMED = "ticket_confirmed"
    TICKET_REJECTED = "ticket_rejected"
    TICKET_EXPIRED = "ticket_expired"
    ORDER_FILLED = "order_filled"
    ORDER_REJECTED = "order_rejected"
    ORDER_MODIFIED = "order_modified"  # a position's SL/TP changed by a confirmed ticket
    ORDER_CANCELLED = "order_cancelled"  # a pending order removed by a confirmed ticket
    POSITION_CLOSED = "position_closed"
    SL_HIT = "sl_hit"
    TP_HIT = "tp_hit"
    RISK_STATE_CHANGED = "risk_state_changed"
    ALERT_FIRED = "alert_fired"
    BROKER_DISCONNECTED = "broker_disconnected"
    BROKER_RECONNECTED = "broker_reconnected"
    PART_RESTARTED = "part_restarted"


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: new_id("evt"))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


class Subscription:
    """An async iterator of events for one subscriber; `close()` to stop receiving."""

    def __init__(self, bus: EventBus, types: frozenset[EventType] | None, maxsize: int) -> None:
        self._bus = bus
        self.types = types
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)

    def wants(self, event: Event) -> bool:
        return self.types is None or event.type in self.types

    def deliver(self, event: Event) -> None:
        """Called on the subscriber's loop."""
        if self.queue.full():
            self.queue.get_nowait()
            log.warning("event subscriber lagging; dropped its oldest event")
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Publish from anywhere; subscribe from async code."""

    def __init__(self, journal: Journal | None = None) -> None:
        self._journal = journal
        self._subs: list[Subscription] = []
        self._retained: list[Event] = []
        self._lock = threading.Lock()

    def subscribe(self, types: Iterable[EventType] | None = None,
                  maxsize: int = 1000) -> Subscription:
        """Events from now on, and the retained ones of the last `RETAIN` (call on the loop
        that will read them)."""
        sub = Subscription(self, frozenset(types) if types is not None else None, maxsize)
        horizon = datetime.now(UTC) - RETAIN
        with self._lock:
            self._subs.append(sub)
            self._retained = [e for e in self._retained if e.time > horizon]
            replay = [e for e in self._retained if sub.wants(e)]
        for event in replay:
            sub.deliver(event)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, type_: EventType, payload: dict[str, Any], *,
                retain: bool = False) -> Event:
        event = Event(EventType(type_), payload)
        if self._journal is not None:
            self._journal.insert("events", {"id": event.id, "time": event.time.isoformat(),
                                            "type": event.type.value, "payload": payload})
        with self._lock:
            subs = [s for s in self._subs if s.wants(event)]
            if retain:
                self._retained.append(event)
        for sub in subs:
            if sub.loop.is_closed():
                self.unsubscribe(sub)
                continue
            sub.loop.call_soon_threadsafe(sub.deliver, event)
        return event
