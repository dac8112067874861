"""The service's trade management beyond open, close, modify and cancel: move a stop to
breakeven, a trailing stop, close all (or all of one symbol) on one ticket, a pending order's
new price and stops, and the trailing rules in force. `CompanionService` inherits
`TradeManagement`.

Every change at the broker is proposed in a conversation as a command line (the same text a
trader could type), so it takes the one path: the risk gate's ticket (or its denial) comes
back, and nothing is sent before the trader approves that ticket. A refusal here
(`CompanionError`) changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from agent.domain import CompanionError, Position
from agent.risk.trails import TrailBook, TrailRule
from agent.tools.commands import TRAIL_UNITS, command_text, symbol

if TYPE_CHECKING:
    from agent.risk.tickets import TicketBook
    from agent.service import Reply
    from agent.tools.desk import Desk


class TradeManagement:
    """Proposals that manage open trades and pending orders, and the trailing rules."""

    desk: Desk
    tickets: TicketBook
    _propose: Callable[[str, str], Awaitable[Reply]]  # CompanionService's: one graph turn
    propose_modify: Callable[[str, int, Mapping[str, float | None]], Awaitable[Reply]]

    async def propose_breakeven(self, thread_id: str, position: int) -> Reply:
        """Propose moving the stop of `position` to its open price (its TP stays)."""
        await self._held(position)
        return await self._propose(thread_id, command_text("be", ticket=position))

    async def propose_trail(self, thread_id: str, position: int, distance: float,
                            unit: str = "pips") -> Reply:
        """Propose a trailing stop on `position`, `distance` behind the price in pips,
        points or price: confirmed once, then the runtime moves that stop toward profit."""
        if unit not in TRAIL_UNITS:
            raise CompanionError("bad_unit", f"'{unit}' is not a unit: use pips, points or "
                                 "price.")
        if not distance > 0:
            raise CompanionError("bad_distance", "The trailing distance must be above zero.")
        await self._held(position)
        return await self._propose(thread_id, command_text(
            "trail", ticket=position, distance=distance, unit=unit))

    async def propose_close_all(self, thread_id: str, symbol_name: str | None = None) -> Reply:
        """Propose closing every open position (of one symbol): one ticket listing each
        position with its P/L now; each is closed once the trader approves it."""
        name = symbol(symbol_name) if symbol_name else None
        held = await asyncio.to_thread(self.desk.positions, name)
        if not held:
            where = f" in {name}" if name else ""
            raise CompanionError("no_positions", f"There is no open position{where} to close.")
        return await self._propose(thread_id, command_text("closeall", symbol=name))

    async def propose_modify_order(self, thread_id: str, order: int,
                                   changes: Mapping[str, float | None]) -> Reply:
        """Propose a pending order's new entry price, SL and/or TP: `changes` holds "price",
        "sl", "tp" (an SL or TP may be None: remove it); a level not named stays."""
        if not changes or set(changes) - {"price", "sl", "tp"} or (
                "price" in changes and changes["price"] is None):
            raise CompanionError("nothing_to_modify", "Say the order's new price, stop-loss or "
                                 "take-profit.")
        if not any(o.ticket == order for o in await asyncio.to_thread(self.desk.orders)):
            raise CompanionError("order_unknown", f"There is no pending order #{order}.")
        return await self._propose(thread_id, command_text("modify", ticket=order, **changes))

    async def propose_change(self, thread_id: str, ticket: int,
                             changes: Mapping[str, float | None]) -> Reply:
        """New SL/TP for an open position, or a new price/SL/TP for a pending order: whichever
        `ticket` is (MT5 numbers positions and live orders apart)."""
        if any(o.ticket == ticket for o in await asyncio.to_thread(self.desk.orders)):
            return await self.propose_modify_order(thread_id, ticket, changes)
        if "price" in changes:
            await self._held(ticket)  # unknown: one sentence; a position: no entry change
            raise CompanionError("bad_modify", f"#{ticket} is an open position: its entry "
                                 "price cannot change. Give a new sl or tp.")
        return await self.propose_modify(thread_id, ticket, changes)

    async def trails(self) -> list[TrailRule]:
        """The trailing stops in force, by position."""
        return await asyncio.to_thread(TrailBook(self.tickets.journal).active)

    async def stop_trail(self, position: int) -> TrailRule:
        """Stop trailing `position`: its stop stays where it is now (nothing is sent)."""
        ended = await asyncio.to_thread(TrailBook(self.tickets.journal).end, position,
                                        "stopped by the trader", now=self.desk.clock())
        if ended is None:
            raise CompanionError("trail_unknown", f"Position #{position} has no trailing stop.")
        return ended

    async def _held(self, position: int) -> Position:
        held = await asyncio.to_thread(self.desk.positions)
        found = next((p for p in held if p.ticket == position), None)
        if found is None:
            raise CompanionError("position_unknown", f"There is no open position #{position}.")
        return found
