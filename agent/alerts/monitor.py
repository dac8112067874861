"""What changed on the account since the last look: closed positions (SL, TP or otherwise),
the trading state, the terminal connection, tickets that expired. Each change is published
once on the event bus.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from agent.domain import CompanionError, Deal, Position
from agent.events import EventBus, EventType
from agent.risk.tickets import TicketBook
from agent.tools.desk import Desk

log = logging.getLogger(__name__)
_CLOSE_EVENTS = {"sl": EventType.SL_HIT, "tp": EventType.TP_HIT}


class AccountMonitor:
    """Publishes position closes, trading-state changes, connection changes, ticket expiry."""

    def __init__(self, desk: Desk, events: EventBus, tickets: TicketBook | None = None) -> None:
        self.desk = desk
        self.events = events
        self.tickets = tickets
        self._open: dict[int, Position] | None = None
        self._state = desk.risk_state.current().trading_state
        self._connected: bool | None = None

    def check(self, positions: list[Position] | None) -> None:
        """One look. `positions`: the open positions just read (None: the terminal failed)."""
        self._connection(positions is not None)
        if positions is not None:
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
