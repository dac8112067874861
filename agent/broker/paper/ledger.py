"""The paper account's mutable state, kept in the MT5 records themselves, persisted in the journal.

Everything that changes (balance, positions, pending orders, deals, history orders, ticket
counters, clock position) lives here and is written to the journal's key/value table, namespace
"paper": key "state" for the live part, one key per deal and history order (append-only, so a
write costs the same after a year of trading as on the first day), and key "version", a counter
that every write bumps.

Several processes (web server, Telegram bot, CLI) may hold a terminal over one journal. The
version is how each notices another's write; `refresh` then reads the live state and only the
deals and history orders it does not hold yet (their tickets come from counters, so the new ones
are known by ticket). The caller holds the journal's write lock (`Journal.transaction()`) around
`save`, `refresh` and `forget`, so what it reads is one consistent snapshot and what it writes
lands whole.

A SELECT of the version costs tens of microseconds (a WAL read transaction), too much for every
quote. `ChangeStamp` is the fast path: eight bytes of shared memory beside the journal that a
writer bumps while it holds the write lock, before it commits. A reader compares them (well
under a microsecond); when they moved, it takes the write lock itself, so it waits for that
commit and reads the version the journal really holds.
"""

from __future__ import annotations

import bisect
import json
import mmap
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.broker.mt5_api import TradeDeal, TradeOrder, TradePosition
from agent.store.journal import Journal, utcnow_iso

NAMESPACE = "paper"
FIRST_ORDER_TICKET = 100_000_001
FIRST_DEAL_TICKET = 200_000_001
#: Past this many missed records a full reload is simpler than looking each one up.
_INCREMENTAL_LIMIT = 5_000
_CHUNK = 500  # keys per `IN (...)` lookup, well under SQLite's parameter limit
_UPSERT = ("INSERT INTO kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?) "
           "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
           "updated_at = excluded.updated_at")


def new_epoch() -> str:
    """A fresh account's identity: history records of another epoch are never mixed in."""
    return uuid.uuid4().hex


def stored_version(journal: Journal) -> int:
    """The version of the saved account (0 on a journal that never held one): one SELECT."""
    row = journal.db.execute("SELECT value FROM kv WHERE namespace = ? AND key = 'version'",
                             [NAMESPACE]).fetchone()
    return int(row[0]) if row else 0


class ChangeStamp:
    """A counter in `<journal>-paper`, mapped into memory, bumped by every paper write."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)  # zeros; a second opener truncating to 8 keeps the content
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)

    @classmethod
    def beside(cls, journal: Journal) -> ChangeStamp | None:
        """The stamp of a journal file (None for an in-memory journal: nobody to share with)."""
        if str(journal.path) == ":memory:":
            return None
        return cls(journal.path.with_name(journal.path.name + "-paper"))

    def read(self) -> bytes:
        return self._map[:8]

    def bump(self) -> bytes:
        """Move the stamp on (the caller holds the journal's write lock); returns the new one."""
        value = (int.from_bytes(self._map[:8], "little") + 1) % 2**64
        self._map[:8] = value.to_bytes(8, "little")
        return self._map[:8]


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
    deals: list[TradeDeal] = field(default_factory=list)  # by ticket
    orders: list[TradeOrder] = field(default_factory=list)  # by ticket
    epoch: str = ""
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
        self.deals.append(deal)  # deal tickets only grow: the list stays in ticket order
        self._unsaved[f"deal:{deal.ticket}"] = list(deal)

    def add_history_order(self, order: TradeOrder) -> None:
        # A pending order reaches history after younger orders: keep ticket order, as a load does.
        bisect.insort(self.orders, order, key=lambda o: o.ticket)
        self._unsaved[f"order:{order.ticket}"] = list(order)

    def scratch(self) -> Ledger:
        """A copy to try a replay on: live state copied, history left empty."""
        return Ledger(self.balance, self.processed_until, dict(self.clock), self.next_order,
                      self.next_deal, self.next_request, dict(self.positions),
                      dict(self.pending), epoch=self.epoch)

    def save(self, journal: Journal, version: int) -> None:
        """Write the live state, any new history records and `version` (caller's transaction)."""
        state = {
            "balance": self.balance, "processed_until": self.processed_until,
            "clock": self.clock, "next_order": self.next_order, "next_deal": self.next_deal,
            "next_request": self.next_request,
            "positions": [list(p) for p in self.positions.values()],
            "pending": [list(o) for o in self.pending.values()], "epoch": self.epoch,
        }
        now = utcnow_iso()
        items = {"state": state, **self._unsaved, "version": version}
        journal.db.conn.executemany(
            _UPSERT, [(NAMESPACE, k, json.dumps(v), now) for k, v in items.items()])
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
        return cls._of(state, deals, orders)

    @classmethod
    def refresh(cls, journal: Journal, held: Ledger | None) -> Ledger | None:
        """The saved ledger, reading only the history `held` lacks when that is safe.

        `held` must hold only committed records (nothing unsaved). Falls back to a full load
        when the account was reset (another epoch), when the counters went backwards, or when
        a record the counters promise is missing.
        """
        state = journal.kv_get(NAMESPACE, "state")
        if state is None:
            return None
        if (held is None or held._unsaved or state.get("epoch", "") != held.epoch
                or state["next_deal"] < held.next_deal or state["next_order"] < held.next_order
                or (state["next_deal"] - held.next_deal) + (state["next_order"] - held.next_order)
                > _INCREMENTAL_LIMIT):
            return cls.load(journal)
        pending_now = {o[0] for o in state["pending"]}
        deal_keys = [f"deal:{n}" for n in range(held.next_deal, state["next_deal"])]
        # Every order ticket is a pending order or a history record; a history record is new
        # if its ticket is new, or if it was pending in `held` and is no longer.
        order_tickets = (set(range(held.next_order, state["next_order"]))
                         | set(held.pending)) - pending_now
        order_keys = [f"order:{n}" for n in sorted(order_tickets)]
        found = _values(journal, deal_keys + order_keys)
        if len(found) != len(deal_keys) + len(order_keys):
            return cls.load(journal)
        deals = held.deals + [TradeDeal(*found[k]) for k in deal_keys]
        orders = list(held.orders)
        for key in order_keys:
            bisect.insort(orders, TradeOrder(*found[key]), key=lambda o: o.ticket)
        return cls._of(state, deals, orders)

    @classmethod
    def _of(cls, state: dict[str, Any], deals: list[TradeDeal],
            orders: list[TradeOrder]) -> Ledger:
        positions = [TradePosition(*p) for p in state["positions"]]
        pending = [TradeOrder(*o) for o in state["pending"]]
        return cls(
            balance=state["balance"], processed_until=state["processed_until"],
            clock=state["clock"], next_order=state["next_order"],
            next_deal=state["next_deal"], next_request=state["next_request"],
            positions={p.ticket: p for p in positions}, pending={o.ticket: o for o in pending},
            deals=deals, orders=orders, epoch=state.get("epoch", ""),
        )

    @staticmethod
    def forget(journal: Journal) -> None:
        """Erase the saved account, version included (caller's transaction; used by reset)."""
        journal.db.execute("DELETE FROM kv WHERE namespace = ?", [NAMESPACE])


def _values(journal: Journal, keys: list[str]) -> dict[str, Any]:
    """Key -> decoded value of the paper keys among `keys` that exist."""
    found: dict[str, Any] = {}
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i:i + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        for key, value in journal.db.execute(
                f"SELECT key, value FROM kv WHERE namespace = ? AND key IN ({marks})",
                [NAMESPACE, *chunk]):
            found[key] = json.loads(value)
    return found
