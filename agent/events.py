"""The in-process event bus: what happened, told to every channel that listens.

`publish` may be called from any thread (graph nodes run in worker threads) and journals the
event first, so an event is never lost because no channel was listening. Subscribers are
asyncio queues owned by their event loop; a slow subscriber's full queue drops its oldest
event rather than blocking the publisher. An event published with `retain=True` (what start-up
found, before any channel listened) is also handed to each channel that subscribes within
`RETAIN` of it.

Across processes: every companion process that runs long follows the journal (`relay`), so
an event published by another process on the same data dir (a ticket confirmed with
`companion confirm`, an alert fired by the one runtime that watches, see `agent.runtime`)
reaches this process's subscribers too, once; its own events it has delivered already.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from agent.domain import CompanionError
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
    TRAIL_STARTED = "trail_started"  # a trailing-stop rule confirmed by its ticket
    TRAIL_MOVED = "trail_moved"  # a trailing stop moved toward profit by the runtime
    POSITION_CLOSED = "position_closed"
    SL_HIT = "sl_hit"
    TP_HIT = "tp_hit"
    RISK_STATE_CHANGED = "risk_state_changed"
    STOP_OUT = "stop_out"  # the broker closed a position at its stop-out margin level
    PENDING_TRIGGERED = "pending_triggered"  # a pending order filled: a position opened
    PENDING_EXPIRED = "pending_expired"  # the broker removed a pending order (expiry, margin)
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
        self.replayed: set[str] = set()  # ids read back from the journal: not delivered twice

    def wants(self, event: Event) -> bool:
        return self.types is None or event.type in self.types

    def deliver(self, event: Event) -> None:
        """Called on the subscriber's loop."""
        if event.id in self.replayed:
            self.replayed.discard(event.id)
            return
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

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Publish from anywhere; subscribe from async code."""

    def __init__(self, journal: Journal | None = None) -> None:
        self._journal = journal
        self._subs: list[Subscription] = []
        self._retained: list[Event] = []
        self._lock = threading.Lock()
        self._own: set[str] = set()  # journaled here, not yet passed by `relay`
        self._own_order: deque[str] = deque()

    def subscribe(self, types: Iterable[EventType] | None = None, maxsize: int = 1000, *,
                  after: str | None = None) -> Subscription:
        """Events from now on, and the retained ones of the last `RETAIN` (call on the loop
        that will read them). `after`: the id of the last event a reconnecting client had;
        the journaled events since it (any process's, at most `maxsize`) come first, each
        once; CompanionError `event_unknown` when the journal has no such event."""
        sub = Subscription(self, frozenset(types) if types is not None else None, maxsize)
        horizon = datetime.now(UTC) - RETAIN
        with self._lock:
            self._subs.append(sub)  # first: what is journaled from now on is delivered live
            self._retained = [e for e in self._retained if e.time > horizon]
            replay = [e for e in self._retained if sub.wants(e)] if after is None else []
        if after is not None:
            try:
                replay = [e for e in self._since(after, maxsize) if sub.wants(e)]
            except CompanionError:
                sub.close()
                raise
            sub.replayed.update(e.id for e in replay)  # a live delivery of one is skipped
        for event in replay[-maxsize:]:
            sub.queue.put_nowait(event)
        return sub

    def _since(self, event_id: str, limit: int) -> list[Event]:
        """The journaled events after `event_id`, oldest first."""
        rowid = self._journal.event_rowid(event_id) if self._journal is not None else None
        if rowid is None:
            raise CompanionError("event_unknown", f"No event {event_id} in the journal: "
                                 "subscribe again without Last-Event-ID.")
        return [_event(row) for _, row in self._journal.events_after(rowid, limit)
                if row["type"] in _KNOWN]

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, type_: EventType, payload: dict[str, Any], *,
                retain: bool = False) -> Event:
        event = Event(EventType(type_), payload)
        if self._journal is not None:
            with self._lock:
                self._own.add(event.id)
                self._own_order.append(event.id)
                while len(self._own_order) > _OWN_MAX:
                    self._own.discard(self._own_order.popleft())
            self._journal.insert("events", {"id": event.id, "time": event.time.isoformat(),
                                            "type": event.type.value, "payload": payload})
        self._deliver(event, retain=retain)
        return event

    async def relay(self, poll_s: float = 0.2) -> None:
        """Deliver the events other processes journal, as they come, until cancelled.

        Starts at the journal's end (what happened before is history, not news); an event
        this bus published itself is skipped, its subscribers have it already.
        """
        if self._journal is None:
            return
        last = await asyncio.to_thread(self._journal.last_event_rowid)
        while True:
            await asyncio.sleep(poll_s)
            try:
                rows = await asyncio.to_thread(self._journal.events_after, last)
            except Exception as exc:  # noqa: BLE001 - a busy journal is read again next time
                log.warning("event relay: journal unreadable (%s)", type(exc).__name__)
                continue
            for rowid, row in rows:
                last = rowid
                with self._lock:
                    own = row["id"] in self._own
                    self._own.discard(row["id"])
                if own or row["type"] not in _KNOWN:
                    continue
                self._deliver(_event(row), retain=False)

    def _deliver(self, event: Event, *, retain: bool) -> None:
        with self._lock:
            subs = [s for s in self._subs if s.wants(event)]
            if retain:
                self._retained.append(event)
        for sub in subs:
            if sub.loop.is_closed():
                self.unsubscribe(sub)
                continue
            sub.loop.call_soon_threadsafe(sub.deliver, event)


_OWN_MAX = 10_000  # own event ids remembered for the relay (it passes each within a poll)
_KNOWN = frozenset(t.value for t in EventType)


def _event(row: dict[str, Any]) -> Event:
    """An event as the journal keeps it."""
    return Event(EventType(row["type"]), row["payload"] or {}, row["id"],
                 _parse_time(row["time"]))


def _parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)
