"""The execute step: the only code that holds the order sender.

For a confirmed ticket it (1) claims the ticket atomically (single use, not expired, same
order), (2) re-runs the risk engine on a fresh quote and refuses if the price left the
approved bound, (3) sends once with the ticket's idempotency key, (4) journals the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from agent.broker.sender import OrderSender
from agent.domain import CompanionError, IntentKind, OrderResult, Side
from agent.events import EventBus, EventType
from agent.risk.tickets import Ticket, TicketBook
from agent.store import Journal, new_id
from agent.tools.desk import Desk
from agent.tools.jsonable import to_jsonable


class Executor:
    """Sends confirmed tickets. Nothing else in the program holds `sender`."""

    def __init__(self, desk: Desk, tickets: TicketBook, sender: OrderSender, journal: Journal,
                 *, events: EventBus | None, clock: Callable[[], datetime]) -> None:
        self._desk = desk
        self._tickets = tickets
        self._sender = sender
        self._journal = journal
        self._events = events
        self._clock = clock

    def execute(self, ticket_id: str, *, expected_hash: str, by: str) -> dict[str, Any]:
        """Send the order of a confirmed ticket once; the outcome as plain data."""
        try:
            ticket = self._tickets.claim(ticket_id, now=self._clock(),
                                         expected_hash=expected_hash, by=by)
        except CompanionError as exc:
            return {"status": "refused", "code": exc.code, "message": exc.message}
        self._publish(EventType.TICKET_CONFIRMED, {"ticket_id": ticket.id, "by": by})
        intent = ticket.intent
        decision = self._desk.evaluate(intent)
        entry = decision.figures.entry_price
        drifted = (intent.kind is IntentKind.OPEN and ticket.price_bound is not None
                   and entry is not None and _beyond(intent.side, entry, ticket.price_bound))
        if not decision.approved or drifted:
            reasons = [v.message for v in decision.denials]
            if drifted:
                reasons.append(f"The price moved to {entry} beyond the approved bound "
                               f"{ticket.price_bound}.")
            outcome = {"status": "blocked", "code": "recheck_failed", "message": " ".join(reasons),
                       "decision": decision.to_dict()}
            self._tickets.mark_sent(ticket.id, outcome)
            return outcome
        result = self._send(ticket)
        self._record(ticket, result)
        return {"status": result.outcome.value, "result": to_jsonable(asdict(result)),
                "message": result.message}

    def _send(self, ticket: Ticket) -> OrderResult:
        intent = ticket.intent
        if intent.kind is IntentKind.CLOSE:
            return self._sender.close(intent.position_ticket, intent.volume,
                                      idempotency_key=ticket.idempotency_key,
                                      price_bound=ticket.price_bound)
        return self._sender.send(intent, idempotency_key=ticket.idempotency_key,
                                 price_bound=ticket.price_bound)

    def _record(self, ticket: Ticket, result: OrderResult) -> None:
        now = self._clock()
        self._journal.insert("orders", {
            "id": new_id("ord"), "idempotency_key": result.idempotency_key,
            "ticket_id": ticket.id, "created_at": now.isoformat(),
            "request": to_jsonable(ticket.order), "outcome": result.outcome.value,
            "retcode": result.retcode, "message": result.message, "order_ticket": result.order,
            "deal": result.deal, "position": result.position, "price": result.price,
            "volume": result.volume, "attempts": result.attempts,
            "reconciled": int(result.reconciled)})
        self._tickets.mark_sent(ticket.id, {"status": result.outcome.value,
                                            "retcode": result.retcode, "order": result.order})
        if result.ok:
            self._desk.risk_state.record_order(now)
        event = EventType.ORDER_FILLED if result.ok else EventType.ORDER_REJECTED
        self._publish(event, {"ticket_id": ticket.id, "symbol": ticket.intent.symbol,
                              "side": ticket.intent.side.value, "volume": result.volume,
                              "price": result.price, "outcome": result.outcome.value,
                              "message": result.message})

    def _publish(self, type_: EventType, payload: dict[str, Any]) -> None:
        if self._events is not None:
            self._events.publish(type_, payload)


def _beyond(side: Side, price: float, bound: float) -> bool:
    return price > bound if side is Side.BUY else price < bound
