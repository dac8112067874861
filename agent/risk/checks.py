"""The risk rules: one small pure function per rule, `check_x(intent, ctx) -> Verdict`.

Every comparison is written as the condition that must hold (`if not (risk <= limit)`), so a
NaN that slips through fails closed instead of passing. Each verdict carries the rule's code,
whether it passed, one sentence a trader understands (with the numbers), and the figures.
`Context` measures the order once (entry, money at risk, margin after, losses) for all rules.

A modify (new SL/TP of an open position) and a cancel (of a pending order) are orders too: the
modify rules keep the stop on the losing side of the price now and beyond the stops level, and
let a stop move away from the price only within the risk-per-trade limit (measured from the
open price) and never while trading is halted or reducing; a cancel must name a pending order.
A partial close leaves nothing or at least the smallest lot; a pending order's new price keeps
its type (a buy limit stays under the ask) and its stops are checked from that price; a
trailing stop keeps at least the stops level behind the price.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple

from agent.config import RiskLimits
from agent.domain import (
    IntentKind,
    Order,
    OrderIntent,
    OrderType,
    Position,
    Side,
    SymbolSpec,
    TradingState,
)
from agent.risk.snapshot import RiskSnapshot, RiskState
from agent.wording import distance as distance_words

RATE_WINDOW = timedelta(seconds=60)
_STATE_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_TOLERANCE = 1e-9  # relative slack for prices and volumes that are equal up to float error


class RiskCode(StrEnum):
    """One code per rule; a verdict says whether its rule passed."""

    BROKER_CONNECTED = "broker_connected"
    INPUT_VALID = "input_valid"
    MARKET_DATA_VALID = "market_data_valid"
    SYMBOL_ALLOWED = "symbol_allowed"
    TRADING_DAY = "trading_day"
    TRADING_HOURS = "trading_hours"
    TRADING_STATE = "trading_state"
    POSITION_TO_CLOSE = "position_to_close"
    STOP_LOSS_REQUIRED = "stop_loss_required"
    STOP_LOSS_PLACEMENT = "stop_loss_placement"
    TAKE_PROFIT_PLACEMENT = "take_profit_placement"
    VOLUME_RANGE = "volume_range"
    VOLUME_STEP = "volume_step"
    VOLUME_CAP = "volume_cap"
    RISK_PER_TRADE = "risk_per_trade"
    REWARD_RISK = "reward_risk"
    OPEN_POSITIONS = "open_positions"
    SYMBOL_POSITIONS = "symbol_positions"
    MARGIN_USED = "margin_used"
    MARGIN_LEVEL = "margin_level"
    DAILY_LOSS = "daily_loss"
    DRAWDOWN = "drawdown"
    SPREAD = "spread"
    ORDER_RATE = "order_rate"
    LOSS_COOLDOWN = "loss_cooldown"
    CURRENCY_EXPOSURE = "currency_exposure"
    POSITION_TO_MODIFY = "position_to_modify"
    MODIFY_CHANGES = "modify_changes"
    ORDER_TO_CANCEL = "order_to_cancel"
    CLOSE_VOLUME = "close_volume"
    ORDER_TO_MODIFY = "order_to_modify"
    PENDING_PRICE = "pending_price"
    TRAIL_DISTANCE = "trail_distance"


class _Spoken(dict[str, Any]):
    """A verdict's details, and `x_words` for each distance `x` in them ("200 points (20.0
    pips)"), worked out only when a template asks."""

    def __missing__(self, key: str) -> str:
        if not key.endswith("_words"):
            raise KeyError(key)
        return distance_words(self[key.removesuffix("_words")], self.get("digits"))


class Verdict(NamedTuple):
    """One rule's answer about one order: its code, whether it passed, the figures, and a
    sentence for the trader. The sentence is `template` filled from `details`, formatted only
    when read, so the hot path never formats text nobody reads; `{x_words}` reads the distance
    `details[x]` (in points) with pips beside it, at `details["digits"]`."""

    code: RiskCode
    passed: bool
    template: str
    details: dict[str, Any]

    @property
    def message(self) -> str:
        return self.template.format_map(_Spoken(self.details))

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "passed": self.passed, "message": self.message,
                "details": self.details}


def stricter(a: TradingState, b: TradingState) -> TradingState:
    """The more restrictive of two trading states."""
    return a if _STATE_RANK[a] >= _STATE_RANK[b] else b


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _positive(x: object) -> bool:
    return _finite(x) and x > 0  # type: ignore[operator]


def _all_positive(values: tuple[Any, ...], non_negative: tuple[Any, ...] = ()) -> bool:
    """Fast path: every value a finite positive number (zero allowed among `non_negative`).
    A NaN or inf makes the sum non-finite; anything not a number raises TypeError."""
    try:
        return (min(values) > 0 and math.isfinite(sum(values))
                and (not non_negative or (min(non_negative) >= 0
                                          and math.isfinite(sum(non_negative)))))
    except TypeError:  # not a number: the slow path names the field
        return False


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def points_between(a: float, b: float, point: float) -> float:
    """|a - b| in points, rid of binary float error (1.0801 - 1.0781 is 200 points, not
    200.00000000000017), so the engine and the sizer agree to the cent."""
    return round(abs(a - b) / point, 6)


def money_at_risk(sl_points: float, volume: float, spec: SymbolSpec) -> float:
    """Money lost at the stop: points * point / tick_size * tick_value * volume."""
    return sl_points * spec.point / spec.tick_size * spec.tick_value * volume


class Context:
    """The inputs of one evaluation and the figures every rule shares, measured once."""

    __slots__ = ("intent", "snap", "limits", "state", "now", "is_close", "entry", "sl_points",
                 "money_at_risk", "risk_pct", "reward_risk", "spread_points", "margin_after",
                 "margin_used_pct", "margin_level_after", "daily_loss_pct", "drawdown_pct",
                 "net_symbol_volume", "symbol_positions", "reduces_exposure", "implied_state",
                 "implied_cause", "kind", "target", "widens")

    def __init__(self, intent: OrderIntent, snap: RiskSnapshot, limits: RiskLimits,
                 state: RiskState, now: datetime) -> None:
        self.intent = intent
        self.snap = snap
        self.limits = limits
        self.state = state
        self.now = now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)
        self.kind = intent.kind
        self.is_close = intent.kind is IntentKind.CLOSE
        self.target = _target(intent, snap)  # the position a modify, the order a cancel, names
        self.widens = False  # a modify that moves the stop away from the price (or removes it)

    def measure(self) -> None:
        """Compute the shared figures; only called once the inputs are known to be valid."""
        intent, snap, limits = self.intent, self.snap, self.limits
        spec, account = snap.spec, snap.account
        equity = account.equity
        self.entry = entry = intent.price if intent.price is not None else (
            snap.quote.price_for(intent.side))
        self.spread_points = round((snap.quote.ask - snap.quote.bid) / spec.point, 6)
        if intent.sl is None:
            self.sl_points = self.money_at_risk = self.risk_pct = self.reward_risk = None
        else:
            self.sl_points = sl_points = points_between(entry, intent.sl, spec.point)
            self.money_at_risk = money_at_risk(sl_points, intent.volume, spec)
            self.risk_pct = self.money_at_risk / equity * 100
            self.reward_risk = (points_between(intent.tp, entry, spec.point) / sl_points
                                if intent.tp is not None and sl_points > 0 else None)
        self.margin_after = account.margin + snap.margin_required
        self.margin_used_pct = self.margin_after / equity * 100
        self.margin_level_after = (equity / self.margin_after * 100
                                   if self.margin_after > 0 else math.inf)
        self.daily_loss_pct = (snap.day_start_equity - equity) / snap.day_start_equity * 100
        base = (max(snap.equity_peak, equity) if limits.drawdown_mode == "peak"
                else snap.starting_balance)
        self.drawdown_pct = (base - equity) / base * 100
        net, count = 0.0, 0
        for p in snap.positions:
            if p.symbol == intent.symbol:
                net += p.side.sign * p.volume
                count += 1
        self.net_symbol_volume, self.symbol_positions = net, count
        self.reduces_exposure = self.is_close or (
            net * intent.side.sign < 0 and intent.volume <= abs(net) * (1 + _TOLERANCE))
        if self.kind is IntentKind.MODIFY:
            self._measure_modify()
        elif self.kind is IntentKind.CANCEL:
            self.reduces_exposure = True  # a cancel only takes an order off the book
        if self.daily_loss_pct >= limits.max_daily_loss_pct:
            self.implied_state, self.implied_cause = TradingState.HALTED, "daily_loss"
        elif self.drawdown_pct >= limits.max_drawdown_pct:
            self.implied_state, self.implied_cause = TradingState.HALTED, "drawdown"
        elif self.daily_loss_pct >= limits.reduce_at_daily_loss_pct:
            self.implied_state, self.implied_cause = TradingState.REDUCING, "daily_loss"
        else:
            self.implied_state, self.implied_cause = TradingState.ACTIVE, ""


    def _measure_modify(self) -> None:
        """Risk at the new stop from the open price (0 when the stop locks in profit), and
        whether the stop moves away from the price; a modify never adds margin or reward."""
        pos, intent = self.target, self.intent
        self.reward_risk = None
        if not isinstance(pos, Position):
            self.widens = True  # nothing to compare with: the rules deny it
            self.reduces_exposure = False
            return
        spec = self.snap.spec
        if intent.sl is None:
            self.sl_points = self.money_at_risk = self.risk_pct = None
        else:
            self.sl_points = max(intent.side.sign * round((pos.price_open - intent.sl)
                                                          / spec.point, 6), 0.0)
            self.money_at_risk = money_at_risk(self.sl_points, pos.volume, spec)
            self.risk_pct = self.money_at_risk / self.snap.account.equity * 100
        self.widens = pos.sl is not None and (
            intent.sl is None or intent.side.sign * (pos.sl - intent.sl) > spec.point * 1e-6)
        self.reduces_exposure = not self.widens


_ON_POSITION = frozenset({IntentKind.CLOSE, IntentKind.MODIFY, IntentKind.TRAIL})
_ON_ORDER = frozenset({IntentKind.CANCEL, IntentKind.MODIFY_ORDER})


def _target(intent: OrderIntent, snap: RiskSnapshot) -> Position | Order | None:
    """The open position a modify, close or trail names, or the pending order a cancel or a
    pending modify names (None: absent)."""
    if intent.kind in _ON_POSITION:
        return next((p for p in snap.positions if p.ticket == intent.position_ticket), None)
    if intent.kind in _ON_ORDER:
        return next((o for o in snap.orders if o.ticket == intent.order_ticket), None)
    return None


PASS, DENY = True, False
_NONE: dict[str, Any] = {}


# -- guards: run first; when the inputs are unusable nothing else can be measured ---------------

def check_broker_connected(intent: OrderIntent, ctx: Context) -> Verdict:
    """The terminal is connected and the account may trade."""
    code = RiskCode.BROKER_CONNECTED
    if not ctx.snap.broker_connected:
        return Verdict(code, DENY, "The trading terminal is not connected, so no order can be "
                       "checked against live prices.", _NONE)
    if not ctx.snap.account.trade_allowed:
        return Verdict(code, DENY, "Trading is disabled on this account.", _NONE)
    return Verdict(code, PASS, "The terminal is connected and the account may trade.", _NONE)


def check_input_valid(intent: OrderIntent, ctx: Context) -> Verdict:
    """The order's own numbers are finite and positive, and it names the snapshot's symbol."""
    code = RiskCode.INPUT_VALID
    if _all_positive(tuple(v for v in (intent.volume, intent.sl, intent.tp, intent.price)
                           if v is not None)):
        bad = []
    else:
        bad = [name for name, v in (("volume", intent.volume), ("sl", intent.sl),
                                    ("tp", intent.tp), ("price", intent.price))
               if not (_positive(v) or (v is None and name != "volume"))]
    if bad:
        return Verdict(code, DENY, "The order has an invalid {names}: every number must be a "
                       "finite positive value.", {"fields": bad, "names": ", ".join(bad)})
    if not isinstance(intent.side, Side) or not isinstance(intent.kind, IntentKind):
        return Verdict(code, DENY, "The order has no valid side or kind.",
                       {"fields": ["side", "kind"]})
    if intent.kind in _ON_POSITION and intent.position_ticket is None:
        return Verdict(code, DENY, "A {kind} must name the position it changes.",
                       {"fields": ["position_ticket"], "kind": intent.kind.value})
    if intent.kind in _ON_ORDER and intent.order_ticket is None:
        return Verdict(code, DENY, "A {kind} must name the pending order it changes.",
                       {"fields": ["order_ticket"], "kind": intent.kind.value})
    if intent.kind is IntentKind.TRAIL and not _positive(intent.trail):
        return Verdict(code, DENY, "A trailing stop needs a distance that is a finite positive "
                       "number.", {"fields": ["trail"]})
    if not intent.symbol == ctx.snap.quote.symbol == ctx.snap.spec.name:
        return Verdict(code, DENY, "The order is for {symbol} but the prices are for {quoted}; "
                       "nothing was checked.", {"fields": ["symbol"], "symbol": intent.symbol,
                                                "quoted": ctx.snap.quote.symbol})
    return Verdict(code, PASS, "The order's numbers are valid.", _NONE)


_POSITIVE_FIELDS = ("bid", "ask", "point", "tick_size", "tick_value", "contract_size",
                    "volume_min", "volume_max", "volume_step", "equity", "day_start_equity",
                    "equity_peak", "starting_balance")


def check_market_data_valid(intent: OrderIntent, ctx: Context) -> Verdict:
    """Prices, symbol spec and account figures are finite and usable."""
    snap = ctx.snap
    q, spec, acc = snap.quote, snap.spec, snap.account
    values = (q.bid, q.ask, spec.point, spec.tick_size, spec.tick_value, spec.contract_size,
              spec.volume_min, spec.volume_max, spec.volume_step, acc.equity,
              snap.day_start_equity, snap.equity_peak, snap.starting_balance)
    if _all_positive(values, non_negative=(acc.margin, snap.margin_required)):
        bad = []
    else:
        bad = [k for k, v in zip(_POSITIVE_FIELDS, values, strict=True) if not _positive(v)]
        bad += [k for k, v in (("margin", acc.margin), ("margin_required", snap.margin_required))
                if not (_finite(v) and v >= 0)]
    if not bad and not q.ask >= q.bid:
        bad.append("ask_below_bid")
    if not bad and not spec.volume_max >= spec.volume_min:
        bad.append("volume_max_below_min")
    if not (type(spec.stops_level) is int and spec.stops_level >= 0):
        bad.append("stops_level")
    if not (type(snap.consecutive_losses) is int and snap.consecutive_losses >= 0):
        bad.append("consecutive_losses")
    if not all(_positive(p.volume) and isinstance(p.side, Side) for p in snap.positions):
        bad.append("positions")
    if bad:
        return Verdict(RiskCode.MARKET_DATA_VALID, DENY, "The account or market data is "
                       "incomplete or invalid ({names}), so the order cannot be checked.",
                       {"fields": bad, "names": ", ".join(bad)})
    return Verdict(RiskCode.MARKET_DATA_VALID, PASS, "Account and market data are valid.", _NONE)


# -- session and state --------------------------------------------------------------------------

def check_symbol_allowed(intent: OrderIntent, ctx: Context) -> Verdict:
    """The symbol is on the allow-list (an empty list allows every symbol)."""
    allowed = ctx.limits.allowed_symbols
    details = {"symbol": intent.symbol, "allowed": allowed}
    if allowed and intent.symbol.upper() not in allowed:
        return Verdict(RiskCode.SYMBOL_ALLOWED, DENY, "{symbol} is not on your list of allowed "
                       "symbols.", details)
    return Verdict(RiskCode.SYMBOL_ALLOWED, PASS, "{symbol} may be traded.", details)


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def check_trading_day(intent: OrderIntent, ctx: Context) -> Verdict:
    """Today (UTC) is one of the allowed weekdays."""
    day = ctx.now.weekday()
    details = {"weekday": day, "day": _DAYS[day]}
    if day not in ctx.limits.trading_weekdays:
        return Verdict(RiskCode.TRADING_DAY, DENY, "You do not trade on {day}s (UTC).", details)
    return Verdict(RiskCode.TRADING_DAY, PASS, "{day} is a trading day.", details)


@lru_cache(maxsize=64)
def _window(hours: str) -> tuple[int, int]:
    start, end = (int(h) * 60 + int(m) for h, m in (t.split(":") for t in hours.split("-")))
    return start, end


def check_trading_hours(intent: OrderIntent, ctx: Context) -> Verdict:
    """Now (UTC) is inside the trading window [start, end); a window may wrap past midnight,
    and a window that starts where it ends spans the whole day."""
    hours = ctx.limits.trading_hours_utc
    if hours is None:
        return Verdict(RiskCode.TRADING_HOURS, PASS, "No trading-hours limit is set.", _NONE)
    start, end = _window(hours)
    t = ctx.now
    minute = t.hour * 60 + t.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end
                                                         or start == end)
    details = {"window": hours, "hour": t.hour, "minute": t.minute}
    if not inside:
        return Verdict(RiskCode.TRADING_HOURS, DENY, "It is {hour:02d}:{minute:02d} UTC, outside "
                       "your trading hours ({window} UTC).", details)
    return Verdict(RiskCode.TRADING_HOURS, PASS, "{hour:02d}:{minute:02d} UTC is inside your "
                   "trading hours ({window} UTC).", details)


def check_trading_state(intent: OrderIntent, ctx: Context) -> Verdict:
    """HALTED allows only closes (and cancels, and stops moved closer to the price); REDUCING
    only those and orders that shrink net exposure."""
    state = ctx.state.trading_state
    code = RiskCode.TRADING_STATE
    details = {"state": state.value, "reason": ctx.state.reason or "no reason given",
               "symbol": intent.symbol, "mode": state.value.lower()}
    takes_risk_off = ctx.kind in (IntentKind.MODIFY, IntentKind.CANCEL) and ctx.reduces_exposure
    if ctx.kind is IntentKind.MODIFY and state is not TradingState.ACTIVE and not takes_risk_off:
        return Verdict(code, DENY, "Trading is {mode} ({reason}); a stop-loss may only move "
                       "closer to the price, not away from it or off.", details)
    if state is TradingState.HALTED and not (ctx.is_close or takes_risk_off):
        return Verdict(code, DENY, "Trading is halted ({reason}); only closing positions is "
                       "allowed.", details)
    if state is TradingState.REDUCING and not ctx.reduces_exposure:
        return Verdict(code, DENY, "Trading is reducing ({reason}); only orders that shrink "
                       "your {symbol} position are allowed.", details)
    return Verdict(code, PASS, "Trading state is {state}.", details)


def check_position_to_close(intent: OrderIntent, ctx: Context) -> Verdict:
    """A close names an open position of this symbol, on its opposite side, and no more volume."""
    code = RiskCode.POSITION_TO_CLOSE
    for p in ctx.snap.positions:
        if p.ticket == intent.position_ticket:
            details = {"position": p.ticket, "symbol": p.symbol, "side": p.side.value,
                       "held": p.volume, "volume": intent.volume}
            if p.symbol != intent.symbol or intent.side is not p.side.opposite:
                return Verdict(code, DENY, "Position {position} is a {side} of {symbol}; this "
                               "close does not match it.", details)
            if not intent.volume <= p.volume * (1 + _TOLERANCE):
                return Verdict(code, DENY, "You asked to close {volume:g} lots but position "
                               "{position} holds {held:g}.", details)
            return Verdict(code, PASS, "Closes {volume:g} of {held:g} lots of position "
                           "{position}.", details)
    return Verdict(code, DENY, "There is no open position {position} to close.",
                   {"position": intent.position_ticket})


# -- modify and cancel ---------------------------------------------------------------------------

def check_position_to_modify(intent: OrderIntent, ctx: Context) -> Verdict:
    """A modify names an open position of this symbol and side."""
    code, pos = RiskCode.POSITION_TO_MODIFY, ctx.target
    details: dict[str, Any] = {"position": intent.position_ticket}
    if not isinstance(pos, Position):
        return Verdict(code, DENY, "There is no open position #{position} to modify.", details)
    details |= {"symbol": pos.symbol, "side": pos.side.value}
    if pos.symbol != intent.symbol or pos.side is not intent.side:
        return Verdict(code, DENY, "Position #{position} is a {side} of {symbol}; this change "
                       "does not match it.", details)
    return Verdict(code, PASS, "Changes position #{position}, a {side} of {symbol}.", details)


def _same_level(a: float | None, b: float | None, point: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < point / 2


def check_modify_changes(intent: OrderIntent, ctx: Context) -> Verdict:
    """A modify changes the SL or the TP (the terminal refuses a request that changes nothing)."""
    code, pos = RiskCode.MODIFY_CHANGES, ctx.target
    if not isinstance(pos, Position):
        return Verdict(code, DENY, "There is no open position to change.", _NONE)
    point = ctx.snap.spec.point
    details = {"position": pos.ticket, "sl": intent.sl, "tp": intent.tp,
               "shown_sl": "none" if intent.sl is None else f"{intent.sl:g}",
               "shown_tp": "none" if intent.tp is None else f"{intent.tp:g}"}
    if _same_level(intent.sl, pos.sl, point) and _same_level(intent.tp, pos.tp, point):
        return Verdict(code, DENY, "Position #{position} already has SL {shown_sl} and TP "
                       "{shown_tp}; there is nothing to change.", details)
    return Verdict(code, PASS, "Sets SL {shown_sl} and TP {shown_tp} on #{position}.", details)


def _modify_level(intent: OrderIntent, ctx: Context, code: RiskCode, level: float | None,
                  loss: bool) -> Verdict:
    name = "stop-loss" if loss else "take-profit"
    if level is None:
        return Verdict(code, PASS, "No {name} to place.", {"name": name})
    price = ctx.snap.quote.price_for(intent.side.opposite)
    details = {"price": price, "level": level, "name": name, "side": intent.side.value,
               "where": "below" if (intent.side is Side.BUY) == loss else "above",
               "stops_level": ctx.snap.spec.stops_level, "digits": ctx.snap.spec.digits}
    distance = details["distance_points"] = _stop_distance_points(intent, ctx, level, loss)
    if not distance > 0:
        return Verdict(code, DENY, "For a {side} position the {name} must be {where} the price "
                       "now, {price:g}; it is {level:g}.", details)
    if not distance + 1e-6 >= ctx.snap.spec.stops_level:
        return Verdict(code, DENY, "The {name} is {distance_points_words} from the price; the "
                       "broker needs at least {stops_level_words}.", details)
    return Verdict(code, PASS, "The {name} is {distance_points_words} from the price, beyond "
                   "the stops level.", details)


def check_modify_stop_loss(intent: OrderIntent, ctx: Context) -> Verdict:
    """The new SL is on the losing side of the price the position closes at now (the bid for a
    buy, the ask for a sell) and at least the stops level away from it."""
    return _modify_level(intent, ctx, RiskCode.STOP_LOSS_PLACEMENT, intent.sl, loss=True)


def check_modify_take_profit(intent: OrderIntent, ctx: Context) -> Verdict:
    """The new TP is on the winning side of the price the position closes at now and at least
    the stops level away from it."""
    return _modify_level(intent, ctx, RiskCode.TAKE_PROFIT_PLACEMENT, intent.tp, loss=False)


def check_modify_risk(intent: OrderIntent, ctx: Context) -> Verdict:
    """A stop that moves away from the price (or goes) risks at most the risk-per-trade limit,
    measured from the open price; a stop that moves closer always passes."""
    code, limit = RiskCode.RISK_PER_TRADE, ctx.limits.max_risk_per_trade_pct
    if not ctx.widens:
        return Verdict(code, PASS, "The stop does not move away from the price, so no risk is "
                       "added.", {"widens": False})
    if ctx.risk_pct is None:
        return Verdict(code, PASS, "No stop-loss, so the risk at the stop cannot be measured.",
                       {"widens": True, "measured": False})
    details = {"risk_pct": ctx.risk_pct, "money_at_risk": ctx.money_at_risk, "limit_pct": limit,
               "currency": ctx.snap.account.currency, "widens": True}
    if not ctx.risk_pct <= limit:
        return Verdict(code, DENY, "At the new stop the trade would lose {risk_pct:.2f}% of "
                       "equity ({money_at_risk:,.2f} {currency}) from its open price; your limit "
                       "is {limit_pct:.2f}%.", details)
    return Verdict(code, PASS, "At the new stop the trade would lose {risk_pct:.2f}% of equity "
                   "from its open price, within your {limit_pct:.2f}% limit.", details)


def check_order_to_cancel(intent: OrderIntent, ctx: Context) -> Verdict:
    """A cancel names a pending order of this symbol."""
    code, order = RiskCode.ORDER_TO_CANCEL, ctx.target
    details: dict[str, Any] = {"order": intent.order_ticket}
    if not isinstance(order, Order):
        return Verdict(code, DENY, "There is no pending order #{order} to cancel.", details)
    details |= {"symbol": order.symbol, "type": order.type.label}
    if order.symbol != intent.symbol:
        return Verdict(code, DENY, "Order #{order} is a {type} of {symbol}; this cancel does "
                       "not match it.", details)
    return Verdict(code, PASS, "Cancels pending order #{order}, a {type} of {symbol}.", details)


def check_close_volume(intent: OrderIntent, ctx: Context) -> Verdict:
    """A close is a whole number of lot steps, at least the smallest lot, and leaves either
    nothing or at least the smallest lot open."""
    code, spec, pos = RiskCode.CLOSE_VOLUME, ctx.snap.spec, ctx.target
    held = pos.volume if isinstance(pos, Position) else intent.volume
    rest = round(held - intent.volume, 8)
    details = {"volume": intent.volume, "held": held, "rest": rest, "step": spec.volume_step,
               "minimum": spec.volume_min, "symbol": spec.name}
    if not on_step(intent.volume, spec.volume_step):
        return Verdict(code, DENY, "{volume:g} lots is not a multiple of the lot step {step:g} "
                       "of {symbol}.", details)
    if not intent.volume >= spec.volume_min * (1 - _TOLERANCE):
        return Verdict(code, DENY, "{volume:g} lots is below the smallest lot of {symbol}, "
                       "{minimum:g}.", details)
    if not (rest <= held * _TOLERANCE or rest >= spec.volume_min * (1 - _TOLERANCE)):
        return Verdict(code, DENY, "Closing {volume:g} of {held:g} lots would leave {rest:g}, "
                       "below the smallest lot of {symbol} ({minimum:g}); close all of it or "
                       "less.", details)
    return Verdict(code, PASS, "Closes {volume:g} of {held:g} lots.", details)


def check_order_to_modify(intent: OrderIntent, ctx: Context) -> Verdict:
    """A pending modify names a pending order of this symbol and side, and changes its price,
    SL or TP (the terminal refuses a request that changes nothing)."""
    code, order = RiskCode.ORDER_TO_MODIFY, ctx.target
    details: dict[str, Any] = {"order": intent.order_ticket}
    if not isinstance(order, Order):
        return Verdict(code, DENY, "There is no pending order #{order} to modify.", details)
    details |= {"symbol": order.symbol, "type": order.type.label}
    if order.symbol != intent.symbol or order.side is not intent.side:
        return Verdict(code, DENY, "Order #{order} is a {type} of {symbol}; this change does "
                       "not match it.", details)
    point = ctx.snap.spec.point
    if (_same_level(intent.price, order.price_open, point)
            and _same_level(intent.sl, order.sl, point) and _same_level(intent.tp, order.tp,
                                                                         point)):
        return Verdict(code, DENY, "Order #{order} already has this price, SL and TP; there "
                       "is nothing to change.", details)
    return Verdict(code, PASS, "Changes pending order #{order}, a {type} of {symbol}.",
                   details)


def check_pending_price(intent: OrderIntent, ctx: Context) -> Verdict:
    """A pending order's new price keeps its type (a buy limit stays under the ask, a buy stop
    above it) and is at least the stops level from the market."""
    code, order, quote = RiskCode.PENDING_PRICE, ctx.target, ctx.snap.quote
    if not isinstance(order, Order) or intent.price is None:
        return Verdict(code, DENY, "There is no pending order price to check.", _NONE)
    market = quote.price_for(intent.side)
    now_type = OrderType.pending_for(intent.side, intent.price, quote.bid, quote.ask)
    details = {"order": order.ticket, "type": order.type.label, "price": intent.price,
               "market": market, "now_type": now_type.label,
               "stops_level": ctx.snap.spec.stops_level,
               "distance_points": round(abs(intent.price - market) / ctx.snap.spec.point, 1)}
    if order.type is not now_type:
        return Verdict(code, DENY, "At {price:g} order #{order} would be a {now_type}, not the "
                       "{type} it is (the market is {market:g}); cancel it and place a new "
                       "one instead.", details)
    if not details["distance_points"] + 1e-6 >= ctx.snap.spec.stops_level:
        return Verdict(code, DENY, "{price:g} is {distance_points:.1f} points from the market; "
                       "the broker needs at least {stops_level} points.", details)
    return Verdict(code, PASS, "The {type} at {price:g} is {distance_points:.1f} points from "
                   "the market.", details)


def check_single_order(intent: OrderIntent, ctx: Context) -> Verdict:
    """Several orders at once (a close-all) are decided one close at a time, never as one."""
    return Verdict(RiskCode.INPUT_VALID, DENY, "A close-all is checked one position at a "
                   "time; it cannot be checked as one order.", _NONE)


def check_trail_distance(intent: OrderIntent, ctx: Context) -> Verdict:
    """A trailing stop keeps at least the stops level (and one point) behind the price."""
    spec = ctx.snap.spec
    points = round((intent.trail or 0.0) / spec.point, 6)
    details = {"distance_points": points, "stops_level": spec.stops_level}
    if not points >= max(spec.stops_level, 1):
        return Verdict(RiskCode.TRAIL_DISTANCE, DENY, "A trailing distance of "
                       "{distance_points:g} points is inside the broker's stops level of "
                       "{stops_level} points.", details)
    return Verdict(RiskCode.TRAIL_DISTANCE, PASS, "The stop trails {distance_points:g} points "
                   "behind the price.", details)


# -- the order's shape ---------------------------------------------------------------------------

def check_stop_loss_required(intent: OrderIntent, ctx: Context) -> Verdict:
    """A stop-loss is set when the limits require one."""
    code = RiskCode.STOP_LOSS_REQUIRED
    if intent.sl is not None:
        return Verdict(code, PASS, "A stop-loss is set.", _NONE)
    if ctx.limits.require_stop_loss:
        return Verdict(code, DENY, "Every order needs a stop-loss; add one.", _NONE)
    return Verdict(code, PASS, "No stop-loss is set, and your limits allow that.", _NONE)


def _stop_distance_points(intent: OrderIntent, ctx: Context, level: float, loss: bool) -> float:
    """Signed distance in points from the price MT5 measures stops against (the closing price
    of a market order, the order price of a pending one); positive on the correct side."""
    ref = intent.price if intent.price is not None else ctx.snap.quote.price_for(
        intent.side.opposite)
    sign = intent.side.sign if loss else -intent.side.sign
    return sign * (ref - level) / ctx.snap.spec.point


def check_stop_loss_placement(intent: OrderIntent, ctx: Context) -> Verdict:
    """The SL is on the losing side of the entry and at least the stops level away."""
    code = RiskCode.STOP_LOSS_PLACEMENT
    if intent.sl is None:
        return Verdict(code, PASS, "No stop-loss to place.", _NONE)
    buy = intent.side is Side.BUY
    details = {"entry": ctx.entry, "sl": intent.sl, "side": intent.side.value,
               "where": "below" if buy else "above", "stops_level": ctx.snap.spec.stops_level,
               "digits": ctx.snap.spec.digits}
    if not intent.side.sign * (ctx.entry - intent.sl) > 0:
        return Verdict(code, DENY, "For a {side} the stop-loss must be {where} the entry price "
                       "{entry:g}; it is {sl:g}.", details)
    distance = details["distance_points"] = _stop_distance_points(intent, ctx, intent.sl, True)
    if not (distance > 0 and distance + 1e-6 >= ctx.snap.spec.stops_level):
        return Verdict(code, DENY, "The stop-loss is {distance_points_words} from the price; "
                       "the broker needs at least {stops_level_words}.", details)
    return Verdict(code, PASS, "The stop-loss is {distance_points_words} away, beyond the "
                   "stops level.", details)


def check_take_profit_placement(intent: OrderIntent, ctx: Context) -> Verdict:
    """The TP is on the winning side of the entry and at least the stops level away."""
    code = RiskCode.TAKE_PROFIT_PLACEMENT
    if intent.tp is None:
        return Verdict(code, PASS, "No take-profit to place.", _NONE)
    buy = intent.side is Side.BUY
    details = {"entry": ctx.entry, "tp": intent.tp, "side": intent.side.value,
               "where": "above" if buy else "below", "stops_level": ctx.snap.spec.stops_level,
               "digits": ctx.snap.spec.digits}
    if not intent.side.sign * (intent.tp - ctx.entry) > 0:
        return Verdict(code, DENY, "For a {side} the take-profit must be {where} the entry "
                       "price {entry:g}; it is {tp:g}.", details)
    distance = details["distance_points"] = _stop_distance_points(intent, ctx, intent.tp, False)
    if not distance + 1e-6 >= ctx.snap.spec.stops_level:
        return Verdict(code, DENY, "The take-profit is {distance_points_words} from the price; "
                       "the broker needs at least {stops_level_words}.", details)
    return Verdict(code, PASS, "The take-profit is {distance_points_words} away, beyond the "
                   "stops level.", details)


def check_volume_range(intent: OrderIntent, ctx: Context) -> Verdict:
    """The volume is within the symbol's minimum and maximum."""
    spec, v = ctx.snap.spec, intent.volume
    details = {"volume": v, "minimum": spec.volume_min, "maximum": spec.volume_max,
               "symbol": spec.name}
    if not v >= spec.volume_min * (1 - _TOLERANCE):
        return Verdict(RiskCode.VOLUME_RANGE, DENY, "{volume:g} lots is below the smallest "
                       "order for {symbol}, {minimum:g} lots.", details)
    if not v <= spec.volume_max * (1 + _TOLERANCE):
        return Verdict(RiskCode.VOLUME_RANGE, DENY, "{volume:g} lots is above the largest "
                       "order for {symbol}, {maximum:g} lots.", details)
    return Verdict(RiskCode.VOLUME_RANGE, PASS, "{volume:g} lots is within {minimum:g}-"
                   "{maximum:g} lots.", details)


def on_step(volume: float, step: float) -> bool:
    """True when `volume` is a whole number of `step`s, up to float error (0.3 / 0.01 -> 30)."""
    steps = volume / step
    return math.isfinite(steps) and abs(steps - round(steps)) <= 1e-6


def check_volume_step(intent: OrderIntent, ctx: Context) -> Verdict:
    """The volume is a whole number of volume steps."""
    details = {"volume": intent.volume, "step": ctx.snap.spec.volume_step}
    if not on_step(intent.volume, ctx.snap.spec.volume_step):
        return Verdict(RiskCode.VOLUME_STEP, DENY, "{volume:g} lots is not a multiple of the "
                       "lot step {step:g}.", details)
    return Verdict(RiskCode.VOLUME_STEP, PASS, "{volume:g} lots is on the {step:g} lot step.",
                   details)


def check_volume_cap(intent: OrderIntent, ctx: Context) -> Verdict:
    """The volume is at most your own lot cap per order."""
    details = {"volume": intent.volume, "cap": ctx.limits.max_volume_lots}
    if not intent.volume <= ctx.limits.max_volume_lots:
        return Verdict(RiskCode.VOLUME_CAP, DENY, "{volume:g} lots is above your cap of {cap:g} "
                       "lots per order.", details)
    return Verdict(RiskCode.VOLUME_CAP, PASS, "{volume:g} lots is within your {cap:g} lot cap.",
                   details)


# -- money ---------------------------------------------------------------------------------------

def check_risk_per_trade(intent: OrderIntent, ctx: Context) -> Verdict:
    """Money lost at the stop-loss is at most the risk limit, as % of equity."""
    code, limit = RiskCode.RISK_PER_TRADE, ctx.limits.max_risk_per_trade_pct
    if ctx.risk_pct is None:
        return Verdict(code, PASS, "No stop-loss, so the risk at the stop cannot be measured.",
                       {"measured": False})
    details = {"risk_pct": ctx.risk_pct, "money_at_risk": ctx.money_at_risk, "limit_pct": limit,
               "currency": ctx.snap.account.currency}
    if not ctx.risk_pct <= limit:
        return Verdict(code, DENY, "Risk at the stop is {risk_pct:.2f}% of equity "
                       "({money_at_risk:,.2f} {currency}); your limit is {limit_pct:.2f}%.",
                       details)
    return Verdict(code, PASS, "Risk at the stop is {risk_pct:.2f}% of equity, within your "
                   "{limit_pct:.2f}% limit.", details)


def check_reward_risk(intent: OrderIntent, ctx: Context) -> Verdict:
    """With a TP, reward:risk is at least the minimum (0 disables the rule)."""
    code, minimum = RiskCode.REWARD_RISK, ctx.limits.min_reward_risk
    if ctx.reward_risk is None or minimum == 0:
        return Verdict(code, PASS, "No reward:risk minimum applies to this order.", _NONE)
    details = {"reward_risk": ctx.reward_risk, "minimum": minimum}
    if not ctx.reward_risk >= minimum * (1 - _TOLERANCE):
        return Verdict(code, DENY, "Reward:risk is {reward_risk:.2f}; your minimum is "
                       "{minimum:.2f}.", details)
    return Verdict(code, PASS, "Reward:risk is {reward_risk:.2f}, at least your "
                   "{minimum:.2f}.", details)


def check_open_positions(intent: OrderIntent, ctx: Context) -> Verdict:
    """Open positions after this order are at most the total limit."""
    details = {"after": len(ctx.snap.positions) + 1, "limit": ctx.limits.max_open_positions}
    if not details["after"] <= details["limit"]:
        return Verdict(RiskCode.OPEN_POSITIONS, DENY, "This would be open position number "
                       "{after}; your limit is {limit}.", details)
    return Verdict(RiskCode.OPEN_POSITIONS, PASS, "{after} of {limit} open positions.", details)


def check_symbol_positions(intent: OrderIntent, ctx: Context) -> Verdict:
    """Open positions in this symbol after this order are at most the per-symbol limit."""
    details = {"after": ctx.symbol_positions + 1, "limit": ctx.limits.max_positions_per_symbol,
               "symbol": intent.symbol}
    if not details["after"] <= details["limit"]:
        return Verdict(RiskCode.SYMBOL_POSITIONS, DENY, "This would be {symbol} position number "
                       "{after}; your limit is {limit} per symbol.", details)
    return Verdict(RiskCode.SYMBOL_POSITIONS, PASS, "{after} of {limit} {symbol} positions.",
                   details)


def check_margin_used(intent: OrderIntent, ctx: Context) -> Verdict:
    """Margin in use after the order is at most the limit, as % of equity."""
    details = {"margin_used_pct": ctx.margin_used_pct, "limit_pct": ctx.limits.max_margin_used_pct,
               "margin_required": ctx.snap.margin_required}
    if not ctx.margin_used_pct <= ctx.limits.max_margin_used_pct:
        return Verdict(RiskCode.MARGIN_USED, DENY, "Margin in use would be {margin_used_pct:.1f}% "
                       "of equity; your limit is {limit_pct:.1f}%.", details)
    return Verdict(RiskCode.MARGIN_USED, PASS, "Margin in use would be {margin_used_pct:.1f}% "
                   "of equity, within {limit_pct:.1f}%.", details)


def check_margin_level(intent: OrderIntent, ctx: Context) -> Verdict:
    """Margin level (equity / margin) after the order is at least the minimum."""
    level, minimum = ctx.margin_level_after, ctx.limits.min_margin_level_pct
    if level == math.inf:
        return Verdict(RiskCode.MARGIN_LEVEL, PASS, "No margin would be in use.",
                       {"minimum": minimum})
    details = {"margin_level": level, "minimum": minimum}
    if not level >= minimum:
        return Verdict(RiskCode.MARGIN_LEVEL, DENY, "Margin level would fall to "
                       "{margin_level:.0f}%; your minimum is {minimum:.0f}%.", details)
    return Verdict(RiskCode.MARGIN_LEVEL, PASS, "Margin level would be {margin_level:.0f}%, "
                   "above {minimum:.0f}%.", details)


def check_daily_loss(intent: OrderIntent, ctx: Context) -> Verdict:
    """Today's loss (incl. floating) is under the halt level, and under the reduce level unless
    the order shrinks exposure."""
    loss, limits = ctx.daily_loss_pct, ctx.limits
    details = {"daily_loss_pct": loss, "result_pct": 0.0 - loss + 0.0,
               "reduce_at_pct": limits.reduce_at_daily_loss_pct,
               "halt_at_pct": limits.max_daily_loss_pct}
    if not loss < limits.max_daily_loss_pct:
        return Verdict(RiskCode.DAILY_LOSS, DENY, "You are down {daily_loss_pct:.2f}% today; at "
                       "your {halt_at_pct:.2f}% daily limit trading halts.", details)
    if not (loss < limits.reduce_at_daily_loss_pct or ctx.reduces_exposure):
        return Verdict(RiskCode.DAILY_LOSS, DENY, "You are down {daily_loss_pct:.2f}% today, "
                       "past {reduce_at_pct:.2f}%; only orders that shrink a position are "
                       "allowed.", details)
    return Verdict(RiskCode.DAILY_LOSS, PASS, "Today's result is {result_pct:+.2f}%, within "
                   "your daily loss limits.", details)


def check_drawdown(intent: OrderIntent, ctx: Context) -> Verdict:
    """Drawdown from the equity peak (or the starting balance) is under the limit."""
    peak = ctx.limits.drawdown_mode == "peak"
    details = {"drawdown_pct": ctx.drawdown_pct, "shown_pct": max(ctx.drawdown_pct, 0.0),
               "limit": ctx.limits.max_drawdown_pct,
               "origin": "your equity peak" if peak else "your starting balance"}
    if not ctx.drawdown_pct < ctx.limits.max_drawdown_pct:
        return Verdict(RiskCode.DRAWDOWN, DENY, "You are {drawdown_pct:.2f}% below {origin}; at "
                       "your {limit:.2f}% drawdown limit trading halts.", details)
    return Verdict(RiskCode.DRAWDOWN, PASS, "Drawdown is {shown_pct:.2f}% from {origin}, within "
                   "{limit:.2f}%.", details)


def check_spread(intent: OrderIntent, ctx: Context) -> Verdict:
    """The spread is at most the widest allowed on this symbol, in points."""
    limit = ctx.limits.spread_limit(intent.symbol)
    details = {"spread_points": ctx.spread_points, "limit": limit, "digits": ctx.snap.spec.digits}
    if not ctx.spread_points <= limit:
        return Verdict(RiskCode.SPREAD, DENY, "The spread is {spread_points_words}; your limit "
                       "is {limit_words}.", details)
    return Verdict(RiskCode.SPREAD, PASS, "The spread is {spread_points_words}, within "
                   "{limit_words}.", details)


def check_order_rate(intent: OrderIntent, ctx: Context) -> Verdict:
    """Orders in the last 60 seconds, this one included, are at most the rate limit."""
    since = ctx.now - RATE_WINDOW
    count = 1 + sum(1 for t in ctx.snap.recent_order_times if _utc(t) > since)
    details = {"count": count, "limit": ctx.limits.max_orders_per_minute}
    if not count <= ctx.limits.max_orders_per_minute:
        return Verdict(RiskCode.ORDER_RATE, DENY, "This would be order {count} in the last "
                       "minute; your limit is {limit} per minute.", details)
    return Verdict(RiskCode.ORDER_RATE, PASS, "{count} of {limit} orders this minute.", details)


def check_loss_cooldown(intent: OrderIntent, ctx: Context) -> Verdict:
    """After N losing trades in a row, no new order until the cooldown has passed."""
    limits, snap, code = ctx.limits, ctx.snap, RiskCode.LOSS_COOLDOWN
    n, minutes = limits.max_consecutive_losses, limits.loss_cooldown_minutes
    details: dict[str, Any] = {"losses": snap.consecutive_losses, "limit": n}
    if n == 0 or minutes == 0 or snap.consecutive_losses < n:
        return Verdict(code, PASS, "{losses} losing trades in a row; no cooldown.", details)
    if snap.last_loss_time is None:
        return Verdict(code, DENY, "{losses} losing trades in a row and the time of the last "
                       "one is unknown; wait for the cooldown.", details)
    ends = _utc(snap.last_loss_time) + timedelta(minutes=minutes)
    details["until"] = ends.isoformat()
    if ctx.now < ends:
        details["minutes_left"] = math.ceil((ends - ctx.now).total_seconds() / 60)
        return Verdict(code, DENY, "{losses} losing trades in a row; take a break for "
                       "{minutes_left} more minutes.", details)
    return Verdict(code, PASS, "The cooldown after your losing streak is over.", details)


def _legs(symbol: str, signed_lots: float, price: float | None, ctx: Context
          ) -> tuple[tuple[str, float], ...] | None:
    """What holding `signed_lots` of `symbol` means per currency, in the account currency.

    A long of BASE/QUOTE adds lots*contract_size units of BASE and takes away that times the
    price in QUOTE (so long EURUSD + long EURGBP counts EUR twice). None: a spec, price or rate
    is missing. A CFD quoted in its own currency carries no FX exposure.
    """
    snap = ctx.snap
    own = symbol == snap.spec.name
    spec = snap.spec if own else snap.specs.get(symbol)
    if price is None:
        price = snap.quote.mid if own else snap.prices.get(symbol)
    if spec is None or price is None:
        return None
    base, quote = spec.currency_base, spec.currency_profit
    if base == quote:
        return ()
    account_ccy, fx = snap.account.currency, snap.fx_to_account
    rate_b = 1.0 if base == account_ccy else fx.get(base)
    rate_q = 1.0 if quote == account_ccy else fx.get(quote)
    if rate_b is None or rate_q is None:
        return None
    units = signed_lots * spec.contract_size
    return (base, units * rate_b), (quote, -units * price * rate_q)


def currency_exposure(ctx: Context) -> dict[str, float] | None:
    """Net notional per currency of the open positions, in the account currency."""
    out: dict[str, float] = {}
    for p in ctx.snap.positions:
        legs = _legs(p.symbol, p.side.sign * p.volume, None, ctx)
        if legs is None:
            return None
        for ccy, amount in legs:
            out[ccy] = out.get(ccy, 0.0) + amount
    return out


def check_currency_exposure(intent: OrderIntent, ctx: Context) -> Verdict:
    """No currency's net notional grows past the cap (a multiple of equity)."""
    code, cap = RiskCode.CURRENCY_EXPOSURE, ctx.limits.max_currency_exposure_x
    before = currency_exposure(ctx)
    order = _legs(intent.symbol, intent.side.sign * intent.volume, ctx.entry, ctx)
    if before is None or order is None:
        return Verdict(code, DENY, "A price or exchange rate for a currency you hold is missing, "
                       "so currency exposure cannot be measured.", _NONE)
    equity = ctx.snap.account.equity
    worst = max((abs(v) for v in before.values()), default=0.0) / equity
    for ccy, amount in order:
        held = before.get(ccy, 0.0)
        value = held + amount
        ratio = abs(value) / equity
        if not (ratio <= cap or abs(value) <= abs(held)):
            return Verdict(code, DENY, "Your net {currency} exposure would be {exposure_x:.1f}x "
                           "equity; your cap is {cap:.1f}x.",
                           {"currency": ccy, "exposure_x": ratio, "cap": cap})
        worst = max(worst, ratio)
    return Verdict(code, PASS, "Largest net currency exposure would be {exposure_x:.1f}x "
                   "equity, within {cap:.1f}x.", {"exposure_x": worst, "cap": cap})
