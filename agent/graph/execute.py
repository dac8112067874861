"""The execute step: the only code that holds the order sender.

For a confirmed ticket it (1) claims the ticket atomically (single use, not expired, same
order), (2) re-runs the risk engine on a fresh quote and refuses if the price left the
approved bound, (3) sends once with the ticket's idempotency key, (4) journals the result.

A modify or a cancel is sent the same way (the sender's `modify` / `cancel`); a pending order is
also refused at the re-check when the price has crossed its entry, since the order the trader
approved (a buy limit, say) would now be another (a buy stop).

A process killed between (1) and (4) leaves its ticket `claimed`. `recover_claimed()`, run when
a companion opens, settles each such ticket by its idempotency key at the terminal: found, it is
recorded exactly as a send records it (order row, `sent`, order-rate count, fill event); surely
not there, it ends `failed` and the trader is told that nothing was sent. The events are
retained, so channels that start listening after the companion opened hear them too.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from agent.broker.sender import OrderSender
from agent.domain import CompanionError, IntentKind, OrderOutcome, OrderResult, OrderType, Side
from agent.events import EventBus, EventType
from agent.risk.tickets import FAILED, Ticket, TicketBook, refusal
from agent.store import Journal, new_id
from agent.tools.desk import Desk
from agent.tools.jsonable import to_jsonable

log = logging.getLogger(__name__)


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
        approved_type = ticket.figures.get("order_type")
        now_type = decision.figures.order_type
        crossed = (intent.kind is IntentKind.OPEN and intent.price is not None
                   and approved_type is not None and now_type != approved_type)
        if not decision.approved or drifted or crossed:
            reasons = [v.message for v in decision.denials]
            if drifted:
                reasons.append(f"The price moved to {entry} beyond the approved bound "
                               f"{ticket.price_bound}.")
            if crossed:
                reasons.append(f"The price crossed {intent.price:g}: this would now be a "
                               f"{_label(now_type)}, not the {_label(approved_type)} you "
                               "approved.")
            outcome = {"status": "blocked", "code": "recheck_failed", "message": " ".join(reasons),
                       "decision": decision.to_dict()}
            self._tickets.mark_sent(ticket.id, outcome)
            return outcome
        result = self._send(ticket)
        self._record(ticket, result)
        return {"status": result.outcome.value, "result": to_jsonable(asdict(result)),
                "message": result.message}

    def recover_claimed(self) -> list[str]:
        """Settle the tickets a dead process left `claimed`; one sentence per ticket settled.

        A ticket whose terminal cannot be searched now stays `claimed` for the next start.
        """
        notices = []
        for ticket, claimed_at in self._tickets.orphaned_claims(self._clock()):
            try:
                found = self._sender.find(ticket.intent, idempotency_key=ticket.idempotency_key)
            except CompanionError as exc:
                found = OrderResult(OrderOutcome.REJECTED, 0, exc.message,
                                    ticket.idempotency_key)
            if found is None:
                notice = refusal(ticket.id, FAILED).message
                if self._tickets.mark_failed(ticket.id, notice):
                    self._publish(EventType.ORDER_REJECTED, {
                        **self._order_fields(ticket), "volume": ticket.intent.volume,
                        "price": None, "outcome": "not_sent", "message": notice}, retain=True)
                    notices.append(notice)
            elif found.reconciled:
                row = not self._journal.rows("orders", "idempotency_key = ?",
                                             [ticket.idempotency_key])  # died before its row?
                try:
                    self._record(ticket, found, at=claimed_at, row=row, retain=True)
                except (CompanionError, sqlite3.IntegrityError):
                    continue  # another process recorded it first
                notices.append(f"Ticket {ticket.id} was sent before the companion stopped: "
                               f"{found.message}")
            else:
                log.warning("ticket %s stays claimed: %s", ticket.id, found.message)
        return notices

    def _send(self, ticket: Ticket) -> OrderResult:
        intent = ticket.intent
        if intent.kind is IntentKind.CLOSE:
            return self._sender.close(intent.position_ticket, intent.volume,
                                      idempotency_key=ticket.idempotency_key,
                                      price_bound=ticket.price_bound)
        if intent.kind is IntentKind.MODIFY:
            return self._sender.modify(intent, idempotency_key=ticket.idempotency_key)
        if intent.kind is IntentKind.CANCEL:
            return self._sender.cancel(intent, idempotency_key=ticket.idempotency_key)
        return self._sender.send(intent, idempotency_key=ticket.idempotency_key,
                                 price_bound=ticket.price_bound,
                                 order_type=ticket.figures.get("order_type"))

    def _record(self, ticket: Ticket, result: OrderResult, *, at: datetime | None = None,
                row: bool = True, retain: bool = False) -> None:
        """Journal a send: order row, ticket `sent`, order-rate count, fill or reject event.
        For a send recovered after a crash: `at` when it was sent, `row` False when its order
        row was written before the crash."""
        now = at or self._clock()
        if row:
            self._insert_order(ticket, result, now)
        self._tickets.mark_sent(ticket.id, {"status": result.outcome.value,
                                            "retcode": result.retcode, "order": result.order})
        kind = ticket.intent.kind
        if result.ok and kind in (IntentKind.OPEN, IntentKind.CLOSE):
            self._desk.risk_state.record_order(now)  # modifies and cancels trade no volume
        event = (_DONE_EVENTS.get(kind, EventType.ORDER_FILLED) if result.ok
                 else EventType.ORDER_REJECTED)
        self._publish(event, {**self._order_fields(ticket), "volume": result.volume,
                              "price": result.price, "outcome": result.outcome.value,
                              "message": result.message}, retain=retain)

    def _insert_order(self, ticket: Ticket, result: OrderResult, now: datetime) -> None:
        self._journal.insert("orders", {
            "id": new_id("ord"), "idempotency_key": result.idempotency_key,
            "ticket_id": ticket.id, "created_at": now.isoformat(),
            "request": to_jsonable(ticket.order), "outcome": result.outcome.value,
            "retcode": result.retcode, "message": result.message, "order_ticket": result.order,
            "deal": result.deal, "position": result.position, "price": result.price,
            "volume": result.volume, "attempts": result.attempts,
            "reconciled": int(result.reconciled)})

    @staticmethod
    def _order_fields(ticket: Ticket) -> dict[str, Any]:
        intent = ticket.intent
        fields = {"ticket_id": ticket.id, "symbol": intent.symbol, "side": intent.side.value,
                  "kind": intent.kind.value}
        if intent.kind is IntentKind.MODIFY:
            fields |= {"position": intent.position_ticket, "sl": intent.sl, "tp": intent.tp}
        elif intent.kind is IntentKind.CANCEL:
            fields |= {"order": intent.order_ticket}
        return fields

    def _publish(self, type_: EventType, payload: dict[str, Any], *,
                 retain: bool = False) -> None:
        if self._events is not None:
            self._events.publish(type_, payload, retain=retain)


_DONE_EVENTS = {IntentKind.MODIFY: EventType.ORDER_MODIFIED,
                IntentKind.CANCEL: EventType.ORDER_CANCELLED}


def _label(order_type: str | None) -> str:
    return OrderType(order_type).label if order_type else "market order"


def _beyond(side: Side, price: float, bound: float) -> bool:
    return price > bound if side is Side.BUY else price < bound
