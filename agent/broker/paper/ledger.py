"""The paper account's mutable state, kept in the MT5 records themselves, persisted in the journal.

Everything that changes (balance, positions, pending orders, deals, history orders, ticket
counters, clock position) lives here and is written to the journal's key/value table, namespace
"paper", after every change: key "state" for the live part, one key per deal and history order
(append-only, so a write costs the same after a year of trading as on the first day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.broker.mt5_api import TradeDeal, TradeOrder, TradePosition
from agent.store.journal import Journal

NAMESPACE = "paper"
FIRST_ORDER_TICKET = 100_000_001
FIRST_DEAL_TICKET = 200_000_001


@dataclass
class Ledger:
    """Balance, positions, orders and history of the paper account."""

    balance: float
    processed_until: float
    clock: dict[str, Any] = field(default_factory=dict)
    next_order: int = FIRST_ORDER_TICKET
    next_deal: int = FIRST_DEAL_TICKET
    next_request: int = 1
    positions: dict[int, TradePosition] = field(default_factory=dict)
    pending: dict[int, TradeOrder] = field(default_factory=dict)
    deals: list[TradeDeal] = field(default_factory=list)
    orders: list[TradeOrder] = field(default_factory=list)
    _unsaved: dict[str, Any] = field(default_factory=dict)

    def order_ticket(self) -> int:
        self.next_order += 1
        return self.next_order - 1

    def deal_ticket(self) -> int:
        self.next_deal += 1
        return self.next_deal - 1

    def request_id(self) -> int:
        self.next_request += 1
        return self.next_request - 1

    def add_deal(self, deal: TradeDeal) -> None:
        self.deals.append(deal)
        self._unsaved[f"deal:{deal.ticket}"] = list(deal)

    def add_history_order(self, order: TradeOrder) -> None:
        self.orders.append(order)
        self._unsaved[f"order:{order.ticket}"] = list(order)

    def save(self, journal: Journal) -> None:
        """Write the live state and any new history records in one transaction."""
        state = {
            "balance": self.balance, "processed_until": self.processed_until,
            "clock": self.clock, "next_order": self.next_order, "next_deal": self.next_deal,
            "next_request": self.next_request,
            "positions": [list(p) for p in self.positions.values()],
            "pending": [list(o) for o in self.pending.values()],
        }
        journal.kv_set_many(NAMESPACE, {"state": state, **self._unsaved})
        self._unsaved.clear()

    @classmethod
    def load(cls, journal: Journal) -> Ledger | None:
        """The saved ledger, or None on a journal that never held one."""
        rows = journal.rows("kv", "namespace = ?", [NAMESPACE])
        state = next((r["value"] for r in rows if r["key"] == "state"), None)
        if state is None:
            return None
        deals = sorted((TradeDeal(*r["value"]) for r in rows if r["key"].startswith("deal:")),
                       key=lambda d: d.ticket)
        orders = sorted((TradeOrder(*r["value"]) for r in rows
                         if r["key"].startswith("order:")), key=lambda o: o.ticket)
        positions = [TradePosition(*p) for p in state["positions"]]
        pending = [TradeOrder(*o) for o in state["pending"]]
        return cls(
            balance=state["balance"], processed_until=state["processed_until"],
            clock=state["clock"], next_order=state["next_order"],
            next_deal=state["next_deal"], next_request=state["next_request"],
            positions={p.ticket: p for p in positions}, pending={o.ticket: o for o in pending},
            deals=deals, orders=orders,
        )

    def forget(self, journal: Journal) -> None:
        """Erase the saved account (used by `PaperTerminal.reset(account=True)`)."""
        with journal.transaction() as db:
            db.execute("DELETE FROM kv WHERE namespace = ?", [NAMESPACE])
