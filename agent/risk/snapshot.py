"""What the risk engine reads: a snapshot of the account and market, and the trading state.

The caller gathers every figure (from the broker and the `RiskStateStore`) before calling
`evaluate`; the engine itself reads nothing, so the same inputs always give the same decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from agent.domain import Account, Order, Position, Quote, SymbolSpec, TradingState


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """Everything the engine needs about the account and the market at one moment.

    Money figures are in the account currency. `margin_required` is the terminal's
    `order_calc_margin` for this order. `specs` and `prices` (mid) cover the other symbols held,
    and `fx_to_account` converts one unit of each currency to the account currency
    (e.g. {"EUR": 1.08, "USD": 1.0}); both feed the net currency exposure rule. `orders` are
    the pending orders (a cancel must name one of them).
    """

    account: Account
    quote: Quote
    spec: SymbolSpec
    margin_required: float
    day_start_equity: float
    equity_peak: float
    starting_balance: float
    positions: tuple[Position, ...] = ()
    specs: Mapping[str, SymbolSpec] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)
    fx_to_account: Mapping[str, float] = field(default_factory=dict)
    recent_order_times: tuple[datetime, ...] = ()
    consecutive_losses: int = 0
    last_loss_time: datetime | None = None
    broker_connected: bool = True
    orders: tuple[Order, ...] = ()


@dataclass(frozen=True, slots=True)
class RiskState:
    """The trading state and how it came about (`manual`: set by a person, not by the numbers)."""

    trading_state: TradingState = TradingState.ACTIVE
    manual: bool = False
    reason: str = ""
    since: datetime | None = None
    cause: str = ""  # "manual", "daily_loss", "drawdown"; empty when ACTIVE

    def to_dict(self) -> dict[str, object]:
        return {"trading_state": self.trading_state.value, "manual": self.manual,
                "reason": self.reason, "since": self.since.isoformat() if self.since else None,
                "cause": self.cause}
