"""What changed on the account since the last look: closed positions (SL, TP, stop-out or
otherwise), pending orders the market triggered or the broker removed, the trading state, the
terminal connection, tickets that expired. Each change is published once on the event bus.

These happen at the broker (a real MT5 server closes at the SL on its own), so the place they
are seen is a diff of what the terminal reports, look by look; one runtime per data dir makes
the looks (`agent.runtime`), so each is published once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from agent.domain import CompanionError, Deal, Order, Position
from agent.events import EventBus, EventType
from agent.risk.tickets import TicketBook
from agent.tools.desk import Desk

log = logging.getLogger(__name__)
_CLOSE_EVENTS = {"sl": EventType.SL_HIT, "tp": EventType.TP_HIT, "so": EventType.STOP_OUT}


class AccountMonitor:
    """Publishes position closes, trading-state changes, connection changes, ticket expiry."""

    def __init__(self, desk: Desk, events: EventBus, tickets: TicketBook | None = None) -> None:
        self.desk = desk
        self.events = events
        self.tickets = tickets
        self._open: dict[int, Position] | None = None
        self._pending: dict[int, Order] | None = None
        self._state = desk.risk_state.current().trading_state
        self._connected: bool | None = None

    def check(self, positions: list[Position] | None) -> None:
        """One look. `positions`: the open positions just read (None: the terminal failed)."""
        self._connection(positions is not None)
        if positions is not None:
            self._orders()
            self._positions(positions)
        self._trading_state()
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

    def _trading_state(self) -> None:
        state = self.desk.risk_state.current()
        if state.trading_state is not self._state:
            self.events.publish(EventType.RISK_STATE_CHANGED,
                                {"from": self._state.value, **state.to_dict()})
            self._state = state.trading_state

    def _positions(self, positions: list[Position]) -> None:
        now_open = {p.ticket: p for p in positions}
        if self._open is not None:
            for ticket, pos in self._open.items():
                if ticket not in now_open:
                    self._closed(pos)
        self._open = now_open

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
                       "tp": order.tp, "state": final.state}
            if final.state == "filled":
                self.events.publish(EventType.PENDING_TRIGGERED, {
                    **payload, "price": final.price_current,
                    "position": final.position_id or order.ticket})
            else:
                self.events.publish(EventType.PENDING_EXPIRED, payload)

    def _closed(self, pos: Position) -> None:
        deals = self._closing_deals(pos)
        reason = deals[-1].reason if deals else "unknown"
        profit = sum(d.profit + d.swap + d.commission for d in deals) if deals else pos.profit
        self.events.publish(_CLOSE_EVENTS.get(reason, EventType.POSITION_CLOSED), {
            "position": pos.ticket, "symbol": pos.symbol, "side": pos.side.value,
            "volume": pos.volume, "price_open": pos.price_open,
            "price_close": deals[-1].price if deals else pos.price_current,
            "profit": round(profit, 2), "reason": reason})

    def _closing_deals(self, pos: Position) -> list[Deal]:
        try:
            now = self.desk.market_time()
            history = self.desk.broker.history(pos.time - timedelta(days=1),
                                               now + timedelta(minutes=1))
        except CompanionError as exc:
            log.warning("closed position %s: history unavailable (%s)", pos.ticket, exc.code)
            return []
        return [d for d in history if d.position_id == pos.ticket and d.entry != "in"]
