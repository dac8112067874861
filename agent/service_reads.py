"""The service's read-only data: quotes, bars, analysis, sentiment, sizing, the account, its
positions and history. `CompanionService` inherits `Reads`; each method is one call into the
desk on a worker thread (the terminal API blocks), typed out, `CompanionError` for a refusal.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.domain import Account, CompanionError, Deal, Position, Quote
from agent.risk.sizer import parse_level, parse_risk
from agent.risk.snapshot import RiskState
from agent.tools.commands import symbol
from agent.tools.jsonable import to_jsonable

if TYPE_CHECKING:
    import pandas as pd

    from agent.risk.sizer import SizeResult
    from agent.tools.desk import Desk

MAX_BARS = 5000
MAX_HISTORY_DAYS = 3650


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """The account's figures and the trading state, read together."""

    account: Account
    risk: RiskState

    def to_dict(self) -> dict[str, Any]:
        return {**to_jsonable(self.account), "risk": self.risk.to_dict()}


class Reads:
    """Market and account reads over the desk."""

    desk: Desk

    async def quote(self, symbol: str) -> Quote:
        """Bid, ask, spread and time of `symbol` now."""
        return await asyncio.to_thread(self.desk.quote, _symbol(symbol))

    async def bars(self, symbol: str, timeframe: str = "H1", count: int = 20) -> dict[str, Any]:
        """The last `count` bars as rows (time, OHLC to the symbol's digits, tick volume)."""
        _count(count)
        return await asyncio.to_thread(self.desk.bars_table, _symbol(symbol),
                                       timeframe.upper(), count)

    async def bars_frame(self, symbol: str, timeframe: str = "H1",
                         count: int = 100) -> pd.DataFrame:
        """The last `count` bars as a pandas frame indexed by time (for charts)."""
        _count(count)
        return await asyncio.to_thread(self.desk.bars, _symbol(symbol), timeframe.upper(),
                                       count)

    async def analysis(self, symbol: str, timeframe: str = "H1") -> dict[str, Any]:
        """The indicator pack and a short deterministic market summary."""
        return await asyncio.to_thread(self.desk.analyze, _symbol(symbol), timeframe.upper())

    async def sentiment(self, symbol: str) -> dict[str, Any]:
        """Headline sentiment for `symbol` (CompanionError when no news source is set)."""
        return await asyncio.to_thread(self.desk.sentiment, _symbol(symbol))

    async def size(self, symbol: str, risk: float | str, sl: float | str,
                   side: str | None = None) -> SizeResult:
        """Lots for `risk` (a % of equity, or as typed: "1%", "50USD") with the stop at `sl`
        (a price, or as typed: "1.0750", "20 pips", "150 points" from the entry)."""
        if side not in (None, "buy", "sell"):
            raise CompanionError("bad_side", "Side must be buy or sell.")
        ask = parse_risk(risk) if isinstance(risk, str) else risk
        level, unit = parse_level(sl) if isinstance(sl, str) else (sl, None)
        return await asyncio.to_thread(
            self.desk.size, _symbol(symbol), ask, None if unit else level, side,
            sl_distance=(level, unit) if unit else None)

    async def account(self) -> AccountStatus:
        """Balance, equity, margin and the trading state."""
        def read() -> AccountStatus:
            return AccountStatus(self.desk.broker.account(), self.desk.risk_state.current())
        return await asyncio.to_thread(read)

    async def positions(self, symbol: str | None = None) -> list[Position]:
        """Open positions (of `symbol`, or all)."""
        return await asyncio.to_thread(self.desk.positions,
                                       None if symbol is None else _symbol(symbol))

    async def history(self, days: int = 7) -> list[Deal]:
        """Deals of the last `days` days, oldest first."""
        if not 1 <= days <= MAX_HISTORY_DAYS:
            raise CompanionError("bad_days", f"Ask for 1 to {MAX_HISTORY_DAYS} days.")
        return await asyncio.to_thread(self.desk.history, days)


def _symbol(word: str) -> str:
    return symbol(word)


def _count(count: int) -> None:
    if not 1 <= count <= MAX_BARS:
        raise CompanionError("bad_count", f"Ask for 1 to {MAX_BARS} bars.")
