"""The execute step: the only code that holds the order sender.

For a confirmed ticket it (1) claims the ticket atomically (single use, not expired, same
order), (2) re-runs the risk engine on a fresh quote and refuses if the price left the
approved bound, (3) sends once with the ticket's idempotency key, (4) journals the result.

A modify or a cancel is sent the same way (the sender's `modify` / `cancel` / `modify_order`);
a pending order is also refused at the re-check when the price has crossed its entry, since
the order the trader approved (a buy limit, say) would now be another (a buy stop).

A close-all is sent close by close, each re-checked on its own and sent once with its own key
(the ticket's key and its place, `-1`, `-2`, ...) and price bound; each result is journaled and
announced. A trailing-stop ticket sends nothing: it starts the rule (`TrailBook`), and the
runtime's trailing job then calls `trail()`, which moves that stop only toward profit, each
move re-checked by the risk engine, sent once with a key of its own, journaled and announced
(`trail_moved`).

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
from datetime import datetime, timedelta
from typing import Any

from agent.broker.sender import OrderSender
from agent.domain import (
    CompanionError,
    IntentKind,
    OrderIntent,
    OrderOutcome,
    OrderResult,
    OrderType,
    Side,
)
from agent.events import EventBus, EventType
from agent.risk.tickets import FAILED, ExactOrder, Ticket, TicketBook, refusal
from agent.risk.trailing import next_trail_stop
from agent.risk.trails import TrailBook, TrailRule
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
        self.trails = TrailBook(journal)

    def execute(self, ticket_id: str, *, expected_hash: str, by: str) -> dict[str, Any]:
        """Send the order of a confirmed ticket once; the outcome as plain data."""
        try:
            ticket = self._tickets.claim(ticket_id, now=self._clock(),
                                         expected_hash=expected_hash, by=by)
        except CompanionError as exc:
            return {"status": "refused", "code": exc.code, "message": exc.message}
        self._publish(EventType.TICKET_CONFIRMED, {"ticket_id": ticket.id, "by": by})
        intent = ticket.intent
        if intent.kind is IntentKind.CLOSE_ALL:
            return self._close_all(ticket)
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
        if intent.kind is IntentKind.TRAIL:
            return self._start_trail(ticket, decision.figures.trail_sl)
        result = self._send(ticket)
        self._record(ticket, result)
        outcome = {"status": result.outcome.value, "result": to_jsonable(asdict(result)),
                   "message": result.message}
        if intent.kind is IntentKind.CLOSE and result.ok:
            outcome["profit"] = self._realised(result)
        return outcome

    def recover_claimed(self) -> list[str]:
        """Settle the tickets a dead process left `claimed`; one sentence per ticket settled.

        A ticket whose terminal cannot be searched now stays `claimed` for the next start.
        """
        notices = []
        for ticket, claimed_at in self._tickets.orphaned_claims(self._clock()):
            if ticket.intent.kind in (IntentKind.CLOSE_ALL, IntentKind.TRAIL):
                notices += self._recover_unsent_parts(ticket)
                continue
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

    def _recover_unsent_parts(self, ticket: Ticket) -> list[str]:
        """Settle a claimed close-all (each close found by its own key) or trailing-stop
        ticket (its rule started or not) that a dead process left."""
        if ticket.intent.kind is IntentKind.TRAIL:
            rule = self.trails.get(ticket.intent.position_ticket or 0)
            if rule is not None and rule.ticket_id == ticket.id:
                self._tickets.mark_sent(ticket.id, {"status": OrderOutcome.DONE.value,
                                                    "trail": rule.to_dict()})
                return [f"Ticket {ticket.id} was sent before the companion stopped: the "
                        f"trailing stop on #{rule.position} is on."]
            notice = refusal(ticket.id, FAILED).message
            return [notice] if self._tickets.mark_failed(ticket.id, notice) else []
        found = []
        for place, leg in enumerate(ticket.order.legs, start=1):
            key = f"{ticket.idempotency_key}-{place}"
            try:
                result = self._sender.find(leg.intent, idempotency_key=key)
            except CompanionError:
                return []  # cannot tell now: stays claimed for the next start
            if result is not None and not result.reconciled:
                return []
            if result is not None:
                if not self._journal.rows("orders", "idempotency_key = ?", [key]):
                    self._insert_order(ticket, result, self._clock(), request=leg)
                found.append(leg.position_ticket)
        if not found:
            notice = refusal(ticket.id, FAILED).message
            return [notice] if self._tickets.mark_failed(ticket.id, notice) else []
        whole = len(found) == len(ticket.order.legs)
        self._tickets.mark_sent(ticket.id, {"status": "closed" if whole else "partly_closed",
                                            "results": [{"position": p, "status": "filled"}
                                                        for p in found]})
        return [f"Ticket {ticket.id} was sent before the companion stopped: closed "
                f"{', '.join(f'#{p}' for p in found)}"
                + ("." if whole else "; the other closes were not sent.")]

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
        if intent.kind is IntentKind.MODIFY_ORDER:
            return self._sender.modify_order(intent, idempotency_key=ticket.idempotency_key)
        return self._sender.send(intent, idempotency_key=ticket.idempotency_key,
                                 price_bound=ticket.price_bound,
                                 order_type=ticket.figures.get("order_type"))

    # -- close-all ----------------------------------------------------------------------------

    def _close_all(self, ticket: Ticket) -> dict[str, Any]:
        """Re-check and send each close of a close-all once; a close the re-check refuses is
        not sent (the others still are: each takes risk off). One result per close."""
        results = []
        for place, leg in enumerate(ticket.order.legs, start=1):
            key = f"{ticket.idempotency_key}-{place}"
            decision = self._desk.evaluate(leg.intent)
            if not decision.approved:
                results.append({"position": leg.position_ticket, "symbol": leg.symbol,
                                "status": "blocked", "message": " ".join(decision.explain())})
                continue
            try:
                result = self._sender.close(leg.position_ticket, leg.volume, idempotency_key=key,
                                            price_bound=leg.price_bound)
            except CompanionError as exc:
                result = OrderResult(OrderOutcome.REJECTED, 0, exc.message, key, attempts=0)
            self._record_leg(ticket, leg, result)
            results.append({"position": leg.position_ticket, "symbol": leg.symbol,
                            "status": result.outcome.value, "volume": result.volume,
                            "price": result.price, "message": result.message,
                            "profit": self._realised(result) if result.ok else None,
                            "result": to_jsonable(asdict(result))})
        closed = sum(r["status"] in ("filled", "partial") for r in results)
        status = "closed" if closed == len(results) else "blocked" if closed == 0 and all(
            r["status"] == "blocked" for r in results) else "partly_closed"
        outcome = {"status": status, "results": results,
                   "message": f"Closed {closed} of {len(results)} positions."}
        self._tickets.mark_sent(ticket.id, {"status": "blocked" if status == "blocked" else status,
                                            "results": [{k: r.get(k) for k in (
                                                "position", "status", "message")}
                                                for r in results]})
        return outcome

    def _realised(self, result: OrderResult) -> float | None:
        """The P/L a closing deal booked (profit, swap and commission); None when the
        terminal's history does not show the deal (yet)."""
        now = self._desk.market_time()
        deals = self._desk.broker.history(now - timedelta(days=7), now + timedelta(days=1))
        found = [d for d in deals if d.ticket == result.deal] if result.deal else []
        return found[0].profit + found[0].swap + found[0].commission if found else None

    def _record_leg(self, ticket: Ticket, leg: ExactOrder, result: OrderResult) -> None:
        self._insert_order(ticket, result, self._clock(), request=leg)
        if result.ok:
            self._desk.risk_state.record_order(self._clock())
        self._publish(EventType.ORDER_FILLED if result.ok else EventType.ORDER_REJECTED, {
            "ticket_id": ticket.id, "symbol": leg.symbol, "side": leg.side.value,
            "kind": IntentKind.CLOSE.value, "position": leg.position_ticket,
            "volume": result.volume, "price": result.price, "outcome": result.outcome.value,
            "message": result.message})

    # -- trailing stops -------------------------------------------------------------------------

    def _start_trail(self, ticket: Ticket, stop_now: float | None) -> dict[str, Any]:
        """A confirmed trailing-stop ticket: the rule starts; nothing is sent yet."""
        rule = self.trails.start(ticket, now=self._clock())
        message = (f"Trailing stop on position #{rule.position} is on: its stop follows the "
                   f"price {rule.distance:g} behind" + (
                       f" (it moves to {stop_now:g} now)." if stop_now is not None else
                       ", once that is closer than the stop it has."))
        self._tickets.mark_sent(ticket.id, {"status": OrderOutcome.DONE.value,
                                            "trail": rule.to_dict()})
        self._publish(EventType.TRAIL_STARTED, {**self._order_fields(ticket),
                                                "position": rule.position,
                                                "distance": rule.distance, "message": message})
        return {"status": OrderOutcome.DONE.value, "message": message,
                "result": {"position": rule.position, "distance": rule.distance,
                           "stop_now": stop_now}}

    def trail(self, rule: TrailRule) -> dict[str, Any] | None:
        """One look at a trailing rule: when the price has moved the rule's stop toward
        profit, move it (risk-checked, sent once with a key of its own, journaled, announced);
        when the position is gone, end the rule. The move as data, or None when nothing
        moved."""
        pos = next((p for p in self._desk.positions(rule.symbol)
                    if p.ticket == rule.position), None)
        if pos is None:
            self.trails.end(rule.position, "position closed", now=self._clock())
            return None
        spec, quote = self._desk.broker.symbol_spec(pos.symbol), self._desk.quote(pos.symbol)
        price = quote.price_for(pos.side.opposite)
        stop = next_trail_stop(pos.side, price, pos.sl, rule.distance, point=spec.point,
                               stops_level=spec.stops_level, digits=spec.digits)
        if stop is None:
            return None
        intent = OrderIntent(pos.symbol, pos.side, pos.volume, sl=stop, tp=pos.tp,
                             kind=IntentKind.MODIFY, position_ticket=pos.ticket)
        decision = self._desk.evaluate(intent)
        if not decision.approved or (pos.sl is not None and
                                     pos.side.sign * (stop - pos.sl) <= 0):
            log.info("trail #%s: move to %s refused: %s", pos.ticket, stop, decision.explain())
            return None
        rule = self.trails.attempt(rule)
        key = rule.move_key()
        result = self._sender.modify(intent, idempotency_key=key)
        request = ExactOrder.of(intent, None)
        self._insert_order(self._tickets.get(rule.ticket_id), result, self._clock(),
                           request=request)
        move = {"ticket_id": rule.ticket_id, "position": pos.ticket, "symbol": pos.symbol,
                "side": pos.side.value, "sl_before": pos.sl, "sl": stop, "price": price,
                "distance": rule.distance, "outcome": result.outcome.value,
                "profit_at_sl": decision.figures.profit_at_sl,
                "currency": decision.figures.currency, "digits": spec.digits,
                "message": result.message}
        if result.ok:
            self.trails.moved(rule, stop)
            self._publish(EventType.TRAIL_MOVED, move)
        else:
            self._publish(EventType.ORDER_REJECTED, {**move, "kind": IntentKind.MODIFY.value})
        return move

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

    def _insert_order(self, ticket: Ticket | None, result: OrderResult, now: datetime, *,
                      request: ExactOrder | None = None) -> None:
        """One row per order sent (a close of a close-all and a trailing move each have
        their own, under the ticket that authorised them)."""
        self._journal.insert("orders", {
            "id": new_id("ord"), "idempotency_key": result.idempotency_key,
            "ticket_id": ticket.id if ticket else None, "created_at": now.isoformat(),
            "request": to_jsonable(request or ticket.order), "outcome": result.outcome.value,
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
        elif intent.kind is IntentKind.MODIFY_ORDER:
            fields |= {"order": intent.order_ticket, "price": intent.price, "sl": intent.sl,
                       "tp": intent.tp}
        return fields

    def _publish(self, type_: EventType, payload: dict[str, Any], *,
                 retain: bool = False) -> None:
        if self._events is not None:
            self._events.publish(type_, payload, retain=retain)


_DONE_EVENTS = {IntentKind.MODIFY: EventType.ORDER_MODIFIED,
                IntentKind.MODIFY_ORDER: EventType.ORDER_MODIFIED,
                IntentKind.CANCEL: EventType.ORDER_CANCELLED}


def _label(order_type: str | None) -> str:
    return OrderType(order_type).label if order_type else "market order"


def _beyond(side: Side, price: float, bound: float) -> bool:
    return price > bound if side is Side.BUY else price < bound
