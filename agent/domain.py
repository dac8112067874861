"""Domain types shared by every layer: plain, immutable, free of I/O.

This module sits at the bottom of the layer stack (beside `config` and `store`): the broker
produces these objects, the market and risk layers read them, tools and channels render them.
Times are timezone-aware UTC datetimes; prices and volumes are floats in the symbol's units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from agent.wording import points_per_pip


class Side(StrEnum):
    """Direction of an order or position."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class TradingState(StrEnum):
    """ACTIVE trades freely; REDUCING only shrinks exposure; HALTED only closes."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class CompanionError(Exception):
    """The one domain error: a machine-readable code and a sentence a trader understands.

    Raised by the core, mapped once per channel (chat reply, JSON error body, CLI exit code).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Quote:
    """Best bid/ask of a symbol at a moment."""

    symbol: str
    bid: float
    ask: float
    time: datetime
    point: float
    digits: int

    @property
    def spread_points(self) -> float:
        """Spread in points (the unit MT5 traders quote spreads in)."""
        return round((self.ask - self.bid) / self.point, 1)

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2

    def price_for(self, side: Side) -> float:
        """The price a market order of `side` fills at: ask for buys, bid for sells."""
        return self.ask if side is Side.BUY else self.bid

    def to_dict(self) -> dict[str, object]:
        return {"symbol": self.symbol, "bid": self.bid, "ask": self.ask,
                "spread_points": self.spread_points, "time": self.time.isoformat(),
                "digits": self.digits}


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """Contract specification of a symbol, as the terminal reports it."""

    name: str
    description: str
    digits: int
    point: float
    contract_size: float
    tick_size: float
    tick_value: float
    volume_min: float
    volume_max: float
    volume_step: float
    stops_level: int
    freeze_level: int
    currency_base: str
    currency_profit: str
    currency_margin: str
    filling_mode: int
    trade_mode: int
    spread: int = 0

    def round_price(self, price: float) -> float:
        return round(price, self.digits)

    @property
    def pip(self) -> float:
        """A pip in price: ten points on a 3- or 5-digit quote (0.0001 on EURUSD, 0.01 on
        USDJPY), else one point."""
        return self.point * points_per_pip(self.digits)


@dataclass(frozen=True, slots=True)
class Account:
    """Trading account figures in the account currency."""

    login: int
    name: str
    server: str
    currency: str
    leverage: int
    balance: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float
    profit: float
    trade_allowed: bool
    is_demo: bool


@dataclass(frozen=True, slots=True)
class Position:
    """An open position."""

    ticket: int
    symbol: str
    side: Side
    volume: float
    price_open: float
    price_current: float
    sl: float | None
    tp: float | None
    profit: float
    swap: float
    time: datetime
    magic: int
    comment: str
    digits: int | None = None  # the symbol's, to show its prices (None: not known)


@dataclass(frozen=True, slots=True)
class Deal:
    """A deal in the account history (an entry or an exit)."""

    ticket: int
    order: int
    position_id: int
    symbol: str
    side: Side
    entry: str  # "in" | "out" | "inout" | "out_by"
    volume: float
    price: float
    profit: float
    commission: float
    swap: float
    time: datetime
    reason: str  # "client" | "sl" | "tp" | "so" | "expert" | ...
    comment: str
    digits: int | None = None  # the symbol's, to show its prices (None: not known)


class IntentKind(StrEnum):
    """What an intent changes at the broker: a new order, a close, a position's SL/TP, the
    removal of a pending order, a pending order's price/SL/TP, several closes at once, or a
    trailing-stop rule on a position."""

    OPEN = "open"
    CLOSE = "close"
    MODIFY = "modify"
    CANCEL = "cancel"
    MODIFY_ORDER = "modify_order"
    CLOSE_ALL = "close_all"
    TRAIL = "trail"


class OrderType(StrEnum):
    """An order's type, as MT5's ORDER_TYPE_* names it (market, limit, stop, stop-limit)."""

    BUY = "buy"
    SELL = "sell"
    BUY_LIMIT = "buy_limit"
    SELL_LIMIT = "sell_limit"
    BUY_STOP = "buy_stop"
    SELL_STOP = "sell_stop"
    BUY_STOP_LIMIT = "buy_stop_limit"
    SELL_STOP_LIMIT = "sell_stop_limit"

    @property
    def side(self) -> Side:
        return Side.BUY if self.value.startswith("buy") else Side.SELL

    @property
    def label(self) -> str:
        """As a trader writes it: "BUY LIMIT", "SELL STOP", "BUY"."""
        return self.value.replace("_", " ").upper()

    @property
    def pending(self) -> bool:
        return self not in (OrderType.BUY, OrderType.SELL)

    @classmethod
    def pending_for(cls, side: Side, price: float, bid: float, ask: float) -> OrderType:
        """The pending order that enters at `price`: a limit when the price is better than
        the market now (below the ask for a buy, above the bid for a sell), else a stop."""
        if side is Side.BUY:
            return cls.BUY_LIMIT if price < ask else cls.BUY_STOP
        return cls.SELL_LIMIT if price > bid else cls.SELL_STOP


@dataclass(frozen=True, slots=True)
class Order:
    """An order of the terminal: a pending one (`orders_get`) or one in the history
    (`history_orders_get`), with its state ("placed", "filled", "canceled", ...)."""

    ticket: int
    symbol: str
    type: OrderType
    volume: float  # still to fill (the initial volume for a finished order)
    price_open: float
    sl: float | None
    tp: float | None
    price_current: float
    time_setup: datetime
    state: str
    position_id: int = 0
    time_done: datetime | None = None
    expiration: datetime | None = None
    magic: int = 0
    comment: str = ""
    digits: int | None = None  # the symbol's, to show its prices (None: not known)

    @property
    def side(self) -> Side:
        return self.type.side


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What the trader (or the agent, on the trader's behalf) wants to do. Not yet approved.

    `price` None means a market order; otherwise a limit/stop price for a pending order.
    A CLOSE intent names the position ticket; its side is the closing side. A MODIFY intent
    names the position and carries its side and volume and the SL/TP wanted (None: none). A
    CANCEL intent names the pending order (`order_ticket`) and repeats what it is; a
    MODIFY_ORDER names it too, with its new entry `price`, SL and TP. A CLOSE_ALL holds one
    CLOSE intent per position in `legs` (its `symbol` is the one they share, or "*"). A TRAIL
    names the position and the `trail` distance (in price) its stop keeps behind the price.
    """

    symbol: str
    side: Side
    volume: float
    sl: float | None = None
    tp: float | None = None
    price: float | None = None
    kind: IntentKind = IntentKind.OPEN
    position_ticket: int | None = None
    comment: str = ""
    order_ticket: int | None = None
    trail: float | None = None
    legs: tuple[OrderIntent, ...] = ()


class OrderOutcome(StrEnum):
    """What became of an order sent to the broker."""

    FILLED = "filled"
    PARTIAL = "partial"
    PLACED = "placed"
    DONE = "done"  # a modify or a cancel the broker executed
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The broker's answer to one order, with the retcode mapped to an outcome and a sentence."""

    outcome: OrderOutcome
    retcode: int
    message: str
    idempotency_key: str
    order: int = 0
    deal: int = 0
    position: int = 0
    volume: float = 0.0
    price: float = 0.0
    attempts: int = 1
    reconciled: bool = False
    raw: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome in (OrderOutcome.FILLED, OrderOutcome.PARTIAL, OrderOutcome.PLACED,
                                OrderOutcome.DONE)
