"""What changed on the account since the last look: closed positions (SL, TP, stop-out or
otherwise), pending orders the market triggered or the broker removed, the terminal
connection, tickets that expired. Each change is published once on the event bus. (The
trading state is published where it changes, by `agent.risk.state.RiskStateStore`.)

These happen at the broker (a real MT5 server closes at the SL on its own), so the place they
are seen is a diff of what the terminal reports, look by look; one runtime per data dir makes
the looks (`agent.runtime`), so each is published once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from agent.domain import CompanionError, Deal, Order, Position
from agent.events import EventBus, EventType
from agent.risk.tickets import TicketBook
from agent.tools.desk import Desk

log = logging.getLogger(__name__)
_CLOSE_EVENTS = {"sl": EventType.SL_HIT, "tp": EventType.TP_HIT, "so": EventType.STOP_OUT}


class AccountMonitor:
    """Publishes position closes, pending-order changes, connection changes, ticket expiry."""

    def __init__(self, desk: Desk, events: EventBus, tickets: TicketBook | None = None) -> None:
        self.desk = desk
        self.events = events
        self.tickets = tickets
        self._open: dict[int, Position] | None = None
        self._last_look: datetime | None = None  # the terminal's time at the last look
        self._told: set[int] = set()  # positions announced without ever being seen open
        self._pending: dict[int, Order] | None = None
        self._connected: bool | None = None

    def check(self, positions: list[Position] | None) -> None:
        """One look. `positions`: the open positions just read (None: the terminal failed)."""
        self._connection(positions is not None)
        if positions is not None:
            self._orders()
            self._positions(positions)
        if self.tickets is not None:
            for ticket_id in self.tickets.expire_due(self.desk.clock()):
                self.events.publish(EventType.TICKET_EXPIRED, {"ticket_id": ticket_id})

    def _connection(self, answered: bool) -> None:
        connected = answered
        if answered:
            try:
                connected = bool(self.desk.broker.terminal_state().get("connected", True))
            except CompanionError:
                connected = False
        if self._connected is not None and connected != self._connected:
            kind = EventType.BROKER_RECONNECTED if connected else EventType.BROKER_DISCONNECTED
            self.events.publish(kind, {})
        self._connected = connected

    def _positions(self, positions: list[Position]) -> None:
        now_open = {p.ticket: p for p in positions}
        if self._open is not None:
            for ticket, pos in self._open.items():
                if ticket not in now_open:
                    self._closed(pos)
            self._unseen_closes(set(self._open) | set(now_open))
        else:
            self._last_look = self._market_time()
        self._open = now_open

    def _unseen_closes(self, seen: set[int]) -> None:
        """Positions opened and closed between two looks (a stop hit within a second of the
        fill): found in the deals since the last look, announced as their close."""
        since, now = self._last_look, self._market_time()
        if since is None or now is None:
            self._last_look = now
            return
        try:
            deals = self.desk.broker.history(since - timedelta(days=1), now + timedelta(minutes=1))
        except CompanionError as exc:
            log.warning("deals since the last look unavailable (%s)", exc.code)
            return
        self._last_look = now
        by_position: dict[int, list[Deal]] = {}
        for deal in deals:
            by_position.setdefault(deal.position_id, []).append(deal)
        for position, group in by_position.items():
            entries = [d for d in group if d.entry == "in"]
            exits = [d for d in group if d.entry != "in"]
            if position in seen or position in self._told or not entries or not exits or \
                    exits[-1].time < since or \
                    sum(d.volume for d in exits) + 1e-9 < sum(d.volume for d in entries):
                continue
            self._told.add(position)
            first = entries[0]
            self._publish_close(position, first.symbol, first.side.value,
                                sum(d.volume for d in entries), first.price, exits, 0.0)

    def _market_time(self) -> datetime | None:
        try:
            return self.desk.market_time()
        except CompanionError:
            return None

    def _orders(self) -> None:
        """Pending orders gone since the last look: filled by the market, or removed by the
        broker (expired, refused for margin). A cancel the trader confirmed is announced by
        the executor (`order_cancelled`), so a cancelled order is not announced again."""
        try:
            now_pending = {o.ticket: o for o in self.desk.orders()}
        except CompanionError as exc:
            log.warning("pending orders unavailable: %s", exc.code)
            return
        gone = [o for t, o in (self._pending or {}).items() if t not in now_pending]
        self._pending = now_pending
        if not gone:
            return
        try:
            now = self.desk.market_time()
            done = {o.ticket: o for o in self.desk.broker.history_orders(
                min(o.time_setup for o in gone) - timedelta(days=1), now + timedelta(minutes=1))}
        except CompanionError as exc:
            log.warning("pending orders gone, history unavailable (%s)", exc.code)
            return
        for order in gone:
            final = done.get(order.ticket)
            if final is None or final.state in ("canceled", "cancelled"):
                continue
            payload = {"order": order.ticket, "symbol": order.symbol, "type": order.type.value,
                       "volume": order.volume, "price_open": order.price_open, "sl": order.sl,
                       "tp": order.tp, "state": final.state, "digits": order.digits}
            if final.state == "filled":
                self.events.publish(EventType.PENDING_TRIGGERED, {
                    **payload, "price": final.price_current,
                    "position": final.position_id or order.ticket})
            else:
                self.events.publish(EventType.PENDING_EXPIRED, payload)

    def _closed(self, pos: Position) -> None:
        self._publish_close(pos.ticket, pos.symbol, pos.side.value, pos.volume, pos.price_open,
                            self._closing_deals(pos), pos.profit, pos.price_current,
                            digits=pos.digits)

    def _publish_close(self, position: int, symbol: str, side: str, volume: float,
                       price_open: float, deals: list[Deal], profit_now: float,
                       price_now: float | None = None, *, digits: int | None = None) -> None:
        """Announce a close by its last deal's reason (SL, TP, stop-out, other); `digits`,
        the symbol's, lets the channels show its prices (the deals' own when they have it)."""
        reason = deals[-1].reason if deals else "unknown"
        profit = sum(d.profit + d.swap + d.commission for d in deals) if deals else profit_now
        self.events.publish(_CLOSE_EVENTS.get(reason, EventType.POSITION_CLOSED), {
            "position": position, "symbol": symbol, "side": side, "volume": volume,
            "price_open": price_open, "price_close": deals[-1].price if deals else price_now,
            "profit": round(profit, 2), "reason": reason,
            "digits": deals[-1].digits if deals and deals[-1].digits is not None else digits})

    def _closing_deals(self, pos: Position) -> list[Deal]:
        try:
            now = self.desk.market_time()
            history = self.desk.broker.history(pos.time - timedelta(days=1),
                                               now + timedelta(minutes=1))
        except CompanionError as exc:
            log.warning("closed position %s: history unavailable (%s)", pos.ticket, exc.code)
            return []
        return [d for d in history if d.position_id == pos.ticket and d.entry != "in"]
