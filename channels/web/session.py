"""One browser conversation: its ticket cards, its trading desk, its event listener.

The listener follows the service's events (this process's and, through the runtime's relay,
every other process's on the data dir), so a ticket answered on Telegram or the CLI, a fill,
an expiry or a trading-state change settles the cards and badge here, and an alert, an SL/TP
hit, a stop-out or a triggered pending order appears in the conversation as a message.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import chainlit as cl

from agent.events import Event, EventType, Subscription
from agent.service import CompanionService
from channels.notices import NOTEWORTHY, notice
from channels.web import cards
from channels.web.desk import desk_props, read_desk

log = logging.getLogger(__name__)

TICKET_EVENTS = frozenset({EventType.TICKET_CONFIRMED, EventType.TICKET_REJECTED,
                           EventType.TICKET_EXPIRED, EventType.ORDER_FILLED,
                           EventType.ORDER_REJECTED, EventType.ORDER_MODIFIED,
                           EventType.ORDER_CANCELLED})
STATE_EVENTS = frozenset({EventType.RISK_STATE_CHANGED})
#: Shown as a message (other pages' tickets are theirs to show; their fills are news here).
NOTICE_EVENTS = NOTEWORTHY - {EventType.TICKET_PENDING, EventType.TICKET_REJECTED,
                              EventType.TICKET_EXPIRED}
#: After these the desk is shown again: on a desktop a panel the trader closed reopens (the
#: news is on it); on a phone the desk moves under the message that told it.
DESK_EVENTS = STATE_EVENTS | {EventType.ORDER_FILLED, EventType.POSITION_CLOSED, EventType.SL_HIT,
                              EventType.TP_HIT, EventType.STOP_OUT, EventType.PENDING_TRIGGERED}
DESK_ELEMENT = "Trading desk"  # public/elements/Trading desk.jsx; also the side panel title


def _buttons(ticket: dict[str, Any]) -> list[cl.Action]:
    payload = {"ticket_id": ticket["id"]}
    return [cl.Action(name="approve", payload=payload, label="Approve", icon="check"),
            cl.Action(name="reject", payload=payload, label="Reject", icon="x")]


@dataclass
class Card:
    """A ticket shown with Approve / Reject until it is answered."""

    ticket: dict[str, Any]
    message: cl.Message
    saved: bool = False  # restored from history: its text already holds every verdict

    async def settle(self, status: str) -> None:
        """Replace the buttons with what became of the ticket."""
        await self.message.remove_actions()
        self.message.actions = []
        self.message.content = cards.with_status(self.message.content, status) if self.saved \
            else cards.ticket_card(self.ticket, status)
        await self.message.update()


@dataclass
class WebSession:
    service: CompanionService
    thread_id: str
    symbol: str = "EURUSD"
    timeframe: str = "H1"
    cards: dict[str, Card] = field(default_factory=dict)
    badge: cl.CustomElement | None = None  # the trading desk element
    phone: bool = False  # a phone-sized page (desk.is_phone)
    desk_message: cl.Message | None = None  # the phone's inline desk
    _desk_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _sub: Subscription | None = None
    _tasks: list[asyncio.Task] = field(default_factory=list)

    async def show_ticket(self, ticket: dict[str, Any]) -> None:
        message = cl.Message(cards.ticket_card(ticket), actions=_buttons(ticket))
        self.cards[ticket["id"]] = Card(ticket, message)
        await message.send()

    async def restore_cards(self, steps: list[dict[str, Any]]) -> None:
        """Give the buttons back to this conversation's pending tickets (a resumed thread).

        History keeps a card's text but not its buttons; the card of a ticket still waiting is
        found among the thread's saved messages and gets Approve / Reject again (a new card,
        from the ticket store, when its message was not saved).
        """
        pending = [t for t in await self.service.pending_tickets()
                   if t.get("thread_id") == self.thread_id and t["id"] not in self.cards]
        for ticket in pending:
            step = next((s for s in reversed(steps) if s.get("type") == "assistant_message"
                         and f"Ticket `{ticket['id']}`" in (s.get("output") or "")), None)
            if step is None:
                await self.show_ticket(ticket)
                continue
            message = cl.Message.from_dict(step)
            message.actions = _buttons(ticket)
            self.cards[ticket["id"]] = Card(ticket, message, saved=True)
            for action in message.actions:
                await action.send(for_id=message.id)

    async def show_state(self) -> None:
        """Show the trading desk (`channels.web.desk`), which keeps its figures fresh itself.

        On a desktop it is a side element, sent once per page: the page keeps it in its side
        panel by itself (also when it mounts a conversation or charts arrive) and leaves the
        panel closed once the trader closes it. On a phone, where that panel is a sheet over
        the chat, it is the conversation's last message instead, moved there after each turn.
        """
        if self.badge is None or self.phone:
            await self.refresh_desk()

    async def refresh_desk(self) -> None:
        """Show the desk with fresh figures: on a desktop sent again (a panel the trader closed
        opens again), on a phone moved under the latest message."""
        props = desk_props(await read_desk(self.service), phone=self.phone)
        async with self._desk_lock:
            if self.phone:
                if self.desk_message is not None:
                    await self.desk_message.remove()
                self.badge = cl.CustomElement(name=DESK_ELEMENT, props=props, display="inline")
                self.desk_message = cl.Message("", author="Trading desk", elements=[self.badge])
                await self.desk_message.send()
                return
            self.badge = cl.CustomElement(name=DESK_ELEMENT, props=props, display="side",
                                          **({"id": self.badge.id} if self.badge else {}))
            await self.badge.send(for_id="", persist=False)

    def keep_desk_in(self, thread: dict[str, Any]) -> None:
        """Add the desk to a resumed thread before the page loads it: the page replaces what
        it shows with the thread's own messages and elements."""
        if self.badge is not None:
            thread["elements"] = [*(thread.get("elements") or []), self.badge.to_dict()]
        if self.desk_message is not None:
            thread["steps"] = [*(thread.get("steps") or []), self.desk_message.to_dict()]

    def listen(self) -> None:
        """Follow the companion's events for as long as the page is open."""
        self._sub = self.service.events(TICKET_EVENTS | NOTICE_EVENTS | DESK_EVENTS)
        self._tasks = [asyncio.create_task(self._follow(self._sub))]

    async def close(self) -> None:
        if self._sub is not None:
            self._sub.close()
        for task in self._tasks:
            task.cancel()
        if self.desk_message is not None:  # a phone's desk is not part of the conversation
            try:
                await self.desk_message.remove()
            except Exception:
                log.exception("web: could not remove the phone's desk")

    async def _follow(self, sub: Subscription) -> None:
        async for event in sub:
            try:
                await self._on_event(event)
            except Exception:  # one bad event must not stop the page's updates
                log.exception("web: could not show event %s", event.type)

    async def _on_event(self, event: Event) -> None:
        await self._show_event(event)
        if event.type in DESK_EVENTS:
            await self.refresh_desk()

    async def _show_event(self, event: Event) -> None:
        card = self.cards.get(event.payload.get("ticket_id", ""))
        if card is None:
            if event.type in NOTICE_EVENTS:
                await cl.Message(notice(event), author="Notification").send()
            return
        if event.type in TICKET_EVENTS:
            await card.settle(cards.resolution(event.type.value, event.payload))
            if event.type in (EventType.ORDER_FILLED, EventType.ORDER_REJECTED,
                              EventType.ORDER_MODIFIED, EventType.ORDER_CANCELLED,
                              EventType.TICKET_REJECTED, EventType.TICKET_EXPIRED):
                self.cards.pop(card.ticket["id"], None)
