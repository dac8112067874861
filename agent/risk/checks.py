"""The risk rules: one small pure function per rule, `check_x(intent, ctx) -> Verdict`.

Every comparison is written as the condition that must hold (`if not (risk <= limit)`), so a
NaN that slips through fails closed instead of passing. Each verdict carries the rule's code,
whether it passed, one sentence a trader understands (with the numbers), and the figures.
`Context` measures the order once (entry, money at risk, margin after, losses) for all rules.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple

from agent.config import RiskLimits
from agent.domain import IntentKind, OrderIntent, Side, TradingState
from agent.risk.snapshot import RiskSnapshot, RiskState

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


class Verdict(NamedTuple):
    """One rule's answer about one order."""

    code: RiskCode
    passed: bool
    message: str
    details: dict[str, Any]

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


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


class Context:
    """The inputs of one evaluation and the figures every rule shares, measured once."""

    __slots__ = ("intent", "snap", "limits", "state", "now", "is_close", "entry", "sl_distance",
                 "money_at_risk", "risk_pct", "reward_risk", "spread_points", "margin_after",
                 "margin_used_pct", "margin_level_after", "daily_loss_pct", "drawdown_pct",
                 "net_symbol_volume", "reduces_exposure", "implied_state", "implied_cause")

    def __init__(self, intent: OrderIntent, snap: RiskSnapshot, limits: RiskLimits,
                 state: RiskState, now: datetime) -> None:
        self.intent = intent
        self.snap = snap
        self.limits = limits
        self.state = state
        self.now = _utc(now)
        self.is_close = intent.kind is IntentKind.CLOSE

    def measure(self) -> None:
        """Compute the shared figures; only called once the inputs are known to be valid."""
        intent, snap, limits = self.intent, self.snap, self.limits
        spec, account = snap.spec, snap.account
        equity = account.equity
        self.entry = entry = intent.price if intent.price is not None else (
            snap.quote.price_for(intent.side))
        self.spread_points = round((snap.quote.ask - snap.quote.bid) / spec.point, 6)
        if intent.sl is None:
            self.sl_distance = self.money_at_risk = self.risk_pct = self.reward_risk = None
        else:
            self.sl_distance = abs(entry - intent.sl)
            self.money_at_risk = (self.sl_distance / spec.tick_size * spec.tick_value
                                  * intent.volume)
            self.risk_pct = self.money_at_risk / equity * 100
            self.reward_risk = (abs(intent.tp - entry) / self.sl_distance
                                if intent.tp is not None and self.sl_distance > 0 else None)
        self.margin_after = account.margin + snap.margin_required
        self.margin_used_pct = self.margin_after / equity * 100
        self.margin_level_after = (equity / self.margin_after * 100
                                   if self.margin_after > 0 else math.inf)
        self.daily_loss_pct = (snap.day_start_equity - equity) / snap.day_start_equity * 100
        base = (max(snap.equity_peak, equity) if limits.drawdown_mode == "peak"
                else snap.starting_balance)
        self.drawdown_pct = (base - equity) / base * 100
        net = 0.0
        for p in snap.positions:
            if p.symbol == intent.symbol:
                net += p.side.sign * p.volume
        self.net_symbol_volume = net
        self.reduces_exposure = self.is_close or (
            net * intent.side.sign < 0 and intent.volume <= abs(net) * (1 + _TOLERANCE))
        if self.daily_loss_pct >= limits.max_daily_loss_pct:
            self.implied_state, self.implied_cause = TradingState.HALTED, "daily_loss"
        elif self.drawdown_pct >= limits.max_drawdown_pct:
            self.implied_state, self.implied_cause = TradingState.HALTED, "drawdown"
        elif self.daily_loss_pct >= limits.reduce_at_daily_loss_pct:
            self.implied_state, self.implied_cause = TradingState.REDUCING, "daily_loss"
        else:
            self.implied_state, self.implied_cause = TradingState.ACTIVE, ""


def _pass(code: RiskCode, message: str, **details: Any) -> Verdict:
    return Verdict(code, True, message, details)


def _deny(code: RiskCode, message: str, **details: Any) -> Verdict:
    return Verdict(code, False, message, details)


# -- guards: run first; when the inputs are unusable nothing else can be measured ---------------

def check_broker_connected(intent: OrderIntent, ctx: Context) -> Verdict:
    """The terminal is connected and the account may trade."""
    code = RiskCode.BROKER_CONNECTED
    if not ctx.snap.broker_connected:
        return _deny(code, "The trading terminal is not connected, so no order can be checked "
                     "against live prices.")
    if not ctx.snap.account.trade_allowed:
        return _deny(code, "Trading is disabled on this account.")
    return _pass(code, "The terminal is connected and the account may trade.")


def check_input_valid(intent: OrderIntent, ctx: Context) -> Verdict:
    """The order's own numbers are finite and positive, and it names the snapshot's symbol."""
    code = RiskCode.INPUT_VALID
    bad = [] if _positive(intent.volume) else ["volume"]
    bad += [name for name in ("sl", "tp", "price")
            if getattr(intent, name) is not None and not _positive(getattr(intent, name))]
    if bad:
        return _deny(code, f"The order has an invalid {', '.join(bad)}: every number must be a "
                     "finite positive value.", fields=bad)
    if not isinstance(intent.side, Side) or not isinstance(intent.kind, IntentKind):
        return _deny(code, "The order has no valid side or kind.", fields=["side", "kind"])
    if intent.kind is IntentKind.CLOSE and intent.position_ticket is None:
        return _deny(code, "A close must name the position it closes.", fields=["position"])
    symbols = {intent.symbol, ctx.snap.quote.symbol, ctx.snap.spec.name}
    if len(symbols) != 1:
        return _deny(code, f"The order is for {intent.symbol} but the prices are for "
                     f"{ctx.snap.quote.symbol}; nothing was checked.", fields=["symbol"])
    return _pass(code, "The order's numbers are valid.")


def check_market_data_valid(intent: OrderIntent, ctx: Context) -> Verdict:
    """Prices, symbol spec and account figures are finite and usable."""
    snap = ctx.snap
    q, spec, acc = snap.quote, snap.spec, snap.account
    positive = {"bid": q.bid, "ask": q.ask, "point": spec.point, "tick_size": spec.tick_size,
                "tick_value": spec.tick_value, "contract_size": spec.contract_size,
                "volume_min": spec.volume_min, "volume_max": spec.volume_max,
                "volume_step": spec.volume_step, "equity": acc.equity,
                "day_start_equity": snap.day_start_equity, "equity_peak": snap.equity_peak,
                "starting_balance": snap.starting_balance}
    bad = [k for k, v in positive.items() if not _positive(v)]
    bad += [k for k, v in (("margin", acc.margin), ("margin_required", snap.margin_required))
            if not (_finite(v) and v >= 0)]
    if not bad and not q.ask >= q.bid:
        bad.append("ask_below_bid")
    if not bad and not spec.volume_max >= spec.volume_min:
        bad.append("volume_max_below_min")
    if not (isinstance(spec.stops_level, int) and spec.stops_level >= 0):
        bad.append("stops_level")
    if not (isinstance(snap.consecutive_losses, int) and snap.consecutive_losses >= 0):
        bad.append("consecutive_losses")
    if any(not (_positive(p.volume) and isinstance(p.side, Side)) for p in snap.positions):
        bad.append("positions")
    if bad:
        return _deny(RiskCode.MARKET_DATA_VALID, "The account or market data is incomplete or "
                     f"invalid ({', '.join(bad)}), so the order cannot be checked.", fields=bad)
    return _pass(RiskCode.MARKET_DATA_VALID, "Account and market data are valid.")


# -- session and state --------------------------------------------------------------------------

def check_symbol_allowed(intent: OrderIntent, ctx: Context) -> Verdict:
    """The symbol is on the allow-list (an empty list allows every symbol)."""
    allowed = ctx.limits.allowed_symbols
    if allowed and intent.symbol.upper() not in allowed:
        return _deny(RiskCode.SYMBOL_ALLOWED, f"{intent.symbol} is not on your list of allowed "
                     f"symbols ({', '.join(allowed)}).", allowed=list(allowed))
    return _pass(RiskCode.SYMBOL_ALLOWED, f"{intent.symbol} may be traded.")


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def check_trading_day(intent: OrderIntent, ctx: Context) -> Verdict:
    """Today (UTC) is one of the allowed weekdays."""
    day = ctx.now.astimezone(UTC).weekday()
    if day not in ctx.limits.trading_weekdays:
        return _deny(RiskCode.TRADING_DAY, f"You do not trade on {_DAYS[day]}s (UTC).",
                     weekday=day)
    return _pass(RiskCode.TRADING_DAY, f"{_DAYS[day]} is a trading day.", weekday=day)


@lru_cache(maxsize=64)
def _window(spec: str) -> tuple[int, int]:
    start, end = spec.split("-")
    return tuple(int(a) * 60 + int(b) for a, b in (start.split(":"), end.split(":")))  # type: ignore[return-value]


def check_trading_hours(intent: OrderIntent, ctx: Context) -> Verdict:
    """Now (UTC) is inside the trading window; a window may wrap past midnight."""
    hours = ctx.limits.trading_hours_utc
    if hours is None:
        return _pass(RiskCode.TRADING_HOURS, "No trading-hours limit is set.")
    start, end = _window(hours)
    t = ctx.now.astimezone(UTC)
    minute = t.hour * 60 + t.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return _deny(RiskCode.TRADING_HOURS, f"It is {t:%H:%M} UTC, outside your trading hours "
                     f"({hours} UTC).", window=hours)
    return _pass(RiskCode.TRADING_HOURS, f"{t:%H:%M} UTC is inside your trading hours.",
                 window=hours)


def check_trading_state(intent: OrderIntent, ctx: Context) -> Verdict:
    """HALTED allows only closes; REDUCING only closes and orders that shrink net exposure."""
    state = ctx.state.trading_state
    code = RiskCode.TRADING_STATE
    why = f" ({ctx.state.reason})" if ctx.state.reason else ""
    if state is TradingState.HALTED and not ctx.is_close:
        return _deny(code, f"Trading is halted{why}; only closing positions is allowed.",
                     state=state.value)
    if state is TradingState.REDUCING and not ctx.reduces_exposure:
        return _deny(code, f"Trading is reducing{why}; only orders that shrink your "
                     f"{intent.symbol} position are allowed.", state=state.value)
    return _pass(code, f"Trading state is {state.value}.", state=state.value)


def check_position_to_close(intent: OrderIntent, ctx: Context) -> Verdict:
    """A close names an open position of this symbol, on its opposite side, and no more volume."""
    code = RiskCode.POSITION_TO_CLOSE
    for p in ctx.snap.positions:
        if p.ticket == intent.position_ticket:
            if p.symbol != intent.symbol or intent.side is not p.side.opposite:
                return _deny(code, f"Position {p.ticket} is a {p.side.value} of {p.symbol}; this "
                             f"close does not match it.", position=p.ticket)
            if not intent.volume <= p.volume * (1 + _TOLERANCE):
                return _deny(code, f"You asked to close {intent.volume:g} lots but position "
                             f"{p.ticket} holds {p.volume:g}.", position=p.ticket)
            return _pass(code, f"Closes {intent.volume:g} of {p.volume:g} lots of position "
                         f"{p.ticket}.", position=p.ticket)
    return _deny(code, f"There is no open position {intent.position_ticket} to close.",
                 position=intent.position_ticket)


# -- the order's shape ---------------------------------------------------------------------------

def check_stop_loss_required(intent: OrderIntent, ctx: Context) -> Verdict:
    """A stop-loss is set when the limits require one."""
    if ctx.limits.require_stop_loss and intent.sl is None:
        return _deny(RiskCode.STOP_LOSS_REQUIRED, "Every order needs a stop-loss; add one.")
    return _pass(RiskCode.STOP_LOSS_REQUIRED, "A stop-loss is set." if intent.sl is not None
                 else "No stop-loss is set, and your limits allow that.")


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
        return _pass(code, "No stop-loss to place.")
    entry, sl = ctx.entry, intent.sl
    if not intent.side.sign * (entry - sl) > 0:
        where = "below" if intent.side is Side.BUY else "above"
        return _deny(code, f"For a {intent.side.value} the stop-loss must be {where} the entry "
                     f"price {entry:g}; it is {sl:g}.", entry=entry, sl=sl)
    distance, level = _stop_distance_points(intent, ctx, sl, True), ctx.snap.spec.stops_level
    if not (distance > 0 and distance + 1e-6 >= level):
        return _deny(code, f"The stop-loss is {max(distance, 0):.1f} points from the price; the "
                     f"broker needs at least {level} points.", distance_points=distance,
                     stops_level=level)
    return _pass(code, f"The stop-loss is {distance:.1f} points away, beyond the stops level.",
                 distance_points=distance)


def check_take_profit_placement(intent: OrderIntent, ctx: Context) -> Verdict:
    """The TP is on the winning side of the entry and at least the stops level away."""
    code = RiskCode.TAKE_PROFIT_PLACEMENT
    if intent.tp is None:
        return _pass(code, "No take-profit to place.")
    entry, tp = ctx.entry, intent.tp
    if not intent.side.sign * (tp - entry) > 0:
        where = "above" if intent.side is Side.BUY else "below"
        return _deny(code, f"For a {intent.side.value} the take-profit must be {where} the entry "
                     f"price {entry:g}; it is {tp:g}.", entry=entry, tp=tp)
    distance, level = _stop_distance_points(intent, ctx, tp, False), ctx.snap.spec.stops_level
    if not distance + 1e-6 >= level:
        return _deny(code, f"The take-profit is {distance:.1f} points from the price; the broker "
                     f"needs at least {level} points.", distance_points=distance,
                     stops_level=level)
    return _pass(code, f"The take-profit is {distance:.1f} points away, beyond the stops level.",
                 distance_points=distance)


def check_volume_range(intent: OrderIntent, ctx: Context) -> Verdict:
    """The volume is within the symbol's minimum and maximum."""
    spec, v = ctx.snap.spec, intent.volume
    if not v >= spec.volume_min * (1 - _TOLERANCE):
        return _deny(RiskCode.VOLUME_RANGE, f"{v:g} lots is below the smallest order for "
                     f"{spec.name}, {spec.volume_min:g} lots.", minimum=spec.volume_min)
    if not v <= spec.volume_max * (1 + _TOLERANCE):
        return _deny(RiskCode.VOLUME_RANGE, f"{v:g} lots is above the largest order for "
                     f"{spec.name}, {spec.volume_max:g} lots.", maximum=spec.volume_max)
    return _pass(RiskCode.VOLUME_RANGE, f"{v:g} lots is within {spec.volume_min:g}-"
                 f"{spec.volume_max:g} lots.")


def on_step(volume: float, step: float) -> bool:
    """True when `volume` is a whole number of `step`s, up to float error (0.3 / 0.01 -> 30)."""
    steps = volume / step
    if not math.isfinite(steps):
        return False
    return abs(steps - round(steps)) <= 1e-6 * max(1.0, steps) ** 0.5


def check_volume_step(intent: OrderIntent, ctx: Context) -> Verdict:
    """The volume is a whole number of volume steps."""
    step = ctx.snap.spec.volume_step
    if not on_step(intent.volume, step):
        return _deny(RiskCode.VOLUME_STEP, f"{intent.volume:g} lots is not a multiple of the "
                     f"lot step {step:g}.", step=step)
    return _pass(RiskCode.VOLUME_STEP, f"{intent.volume:g} lots is on the {step:g} lot step.",
                 step=step)


def check_volume_cap(intent: OrderIntent, ctx: Context) -> Verdict:
    """The volume is at most your own lot cap per order."""
    cap = ctx.limits.max_volume_lots
    if not intent.volume <= cap:
        return _deny(RiskCode.VOLUME_CAP, f"{intent.volume:g} lots is above your cap of "
                     f"{cap:g} lots per order.", cap=cap)
    return _pass(RiskCode.VOLUME_CAP, f"{intent.volume:g} lots is within your {cap:g} lot cap.",
                 cap=cap)


# -- money ---------------------------------------------------------------------------------------

def check_risk_per_trade(intent: OrderIntent, ctx: Context) -> Verdict:
    """Money lost at the stop-loss is at most the risk limit, as % of equity."""
    code, limit = RiskCode.RISK_PER_TRADE, ctx.limits.max_risk_per_trade_pct
    if ctx.risk_pct is None:
        return _pass(code, "No stop-loss, so the risk at the stop cannot be measured.",
                     measured=False)
    details = {"risk_pct": ctx.risk_pct, "money_at_risk": ctx.money_at_risk, "limit_pct": limit}
    if not ctx.risk_pct <= limit:
        return _deny(code, f"Risk at the stop is {ctx.risk_pct:.2f}% of equity "
                     f"({ctx.money_at_risk:,.2f} {ctx.snap.account.currency}); your limit is "
                     f"{limit:.2f}%.", **details)
    return _pass(code, f"Risk at the stop is {ctx.risk_pct:.2f}% of equity, within your "
                 f"{limit:.2f}% limit.", **details)


def check_reward_risk(intent: OrderIntent, ctx: Context) -> Verdict:
    """With a TP, reward:risk is at least the minimum (0 disables the rule)."""
    code, minimum = RiskCode.REWARD_RISK, ctx.limits.min_reward_risk
    if ctx.reward_risk is None or minimum == 0:
        return _pass(code, "No reward:risk minimum applies to this order.")
    if not ctx.reward_risk >= minimum * (1 - _TOLERANCE):
        return _deny(code, f"Reward:risk is {ctx.reward_risk:.2f}; your minimum is "
                     f"{minimum:.2f}.", reward_risk=ctx.reward_risk, minimum=minimum)
    return _pass(code, f"Reward:risk is {ctx.reward_risk:.2f}, at least your {minimum:.2f}.",
                 reward_risk=ctx.reward_risk, minimum=minimum)


def check_open_positions(intent: OrderIntent, ctx: Context) -> Verdict:
    """Open positions after this order are at most the total limit."""
    after, limit = len(ctx.snap.positions) + 1, ctx.limits.max_open_positions
    if not after <= limit:
        return _deny(RiskCode.OPEN_POSITIONS, f"This would be open position number {after}; "
                     f"your limit is {limit}.", after=after, limit=limit)
    return _pass(RiskCode.OPEN_POSITIONS, f"{after} of {limit} open positions.", after=after)


def check_symbol_positions(intent: OrderIntent, ctx: Context) -> Verdict:
    """Open positions in this symbol after this order are at most the per-symbol limit."""
    after = 1 + sum(1 for p in ctx.snap.positions if p.symbol == intent.symbol)
    limit = ctx.limits.max_positions_per_symbol
    if not after <= limit:
        return _deny(RiskCode.SYMBOL_POSITIONS, f"This would be {intent.symbol} position number "
                     f"{after}; your limit is {limit} per symbol.", after=after, limit=limit)
    return _pass(RiskCode.SYMBOL_POSITIONS, f"{after} of {limit} {intent.symbol} positions.",
                 after=after)


def check_margin_used(intent: OrderIntent, ctx: Context) -> Verdict:
    """Margin in use after the order is at most the limit, as % of equity."""
    used, limit = ctx.margin_used_pct, ctx.limits.max_margin_used_pct
    details = {"margin_used_pct": used, "margin_required": ctx.snap.margin_required}
    if not used <= limit:
        return _deny(RiskCode.MARGIN_USED, f"Margin in use would be {used:.1f}% of equity; your "
                     f"limit is {limit:.1f}%.", **details)
    return _pass(RiskCode.MARGIN_USED, f"Margin in use would be {used:.1f}% of equity, within "
                 f"{limit:.1f}%.", **details)


def check_margin_level(intent: OrderIntent, ctx: Context) -> Verdict:
    """Margin level (equity / margin) after the order is at least the minimum."""
    level, minimum = ctx.margin_level_after, ctx.limits.min_margin_level_pct
    if not level >= minimum:
        return _deny(RiskCode.MARGIN_LEVEL, f"Margin level would fall to {level:.0f}%; your "
                     f"minimum is {minimum:.0f}%.", margin_level=level, minimum=minimum)
    return _pass(RiskCode.MARGIN_LEVEL, f"Margin level would be {level:.0f}%, above "
                 f"{minimum:.0f}%.", margin_level=None if math.isinf(level) else level)


def check_daily_loss(intent: OrderIntent, ctx: Context) -> Verdict:
    """Today's loss (incl. floating) is under the halt level, and under the reduce level unless
    the order shrinks exposure."""
    loss, limits = ctx.daily_loss_pct, ctx.limits
    details = {"daily_loss_pct": loss, "reduce_at_pct": limits.reduce_at_daily_loss_pct,
               "halt_at_pct": limits.max_daily_loss_pct}
    if not loss < limits.max_daily_loss_pct:
        return _deny(RiskCode.DAILY_LOSS, f"You are down {loss:.2f}% today; at your "
                     f"{limits.max_daily_loss_pct:.2f}% daily limit trading halts.", **details)
    if not (loss < limits.reduce_at_daily_loss_pct or ctx.reduces_exposure):
        return _deny(RiskCode.DAILY_LOSS, f"You are down {loss:.2f}% today, past "
                     f"{limits.reduce_at_daily_loss_pct:.2f}%; only orders that shrink a "
                     "position are allowed.", **details)
    return _pass(RiskCode.DAILY_LOSS, f"Today's result is {0.0 - loss + 0.0:+.2f}%, within your daily "
                 "loss limits.", **details)


def check_drawdown(intent: OrderIntent, ctx: Context) -> Verdict:
    """Drawdown from the equity peak (or the starting balance) is under the limit."""
    dd, limit, mode = ctx.drawdown_pct, ctx.limits.max_drawdown_pct, ctx.limits.drawdown_mode
    origin = "your equity peak" if mode == "peak" else "your starting balance"
    if not dd < limit:
        return _deny(RiskCode.DRAWDOWN, f"You are {dd:.2f}% below {origin}; at your "
                     f"{limit:.2f}% drawdown limit trading halts.", drawdown_pct=dd, limit=limit)
    return _pass(RiskCode.DRAWDOWN, f"Drawdown is {max(dd, 0):.2f}% from {origin}, within "
                 f"{limit:.2f}%.", drawdown_pct=dd, limit=limit)


def check_spread(intent: OrderIntent, ctx: Context) -> Verdict:
    """The spread is at most the widest allowed, in points."""
    spread, limit = ctx.spread_points, ctx.limits.max_spread_points
    if not spread <= limit * (1 + _TOLERANCE):
        return _deny(RiskCode.SPREAD, f"The spread is {spread:.1f} points; your limit is "
                     f"{limit:.1f}.", spread_points=spread, limit=limit)
    return _pass(RiskCode.SPREAD, f"The spread is {spread:.1f} points, within {limit:.1f}.",
                 spread_points=spread)


def check_order_rate(intent: OrderIntent, ctx: Context) -> Verdict:
    """Orders in the last 60 seconds, this one included, are at most the rate limit."""
    since = ctx.now - RATE_WINDOW
    count = 1 + sum(1 for t in ctx.snap.recent_order_times if _utc(t) > since)
    limit = ctx.limits.max_orders_per_minute
    if not count <= limit:
        return _deny(RiskCode.ORDER_RATE, f"This would be order {count} in the last minute; your "
                     f"limit is {limit} per minute.", count=count, limit=limit)
    return _pass(RiskCode.ORDER_RATE, f"{count} of {limit} orders this minute.", count=count)


def check_loss_cooldown(intent: OrderIntent, ctx: Context) -> Verdict:
    """After N losing trades in a row, no new order until the cooldown has passed."""
    limits, snap = ctx.limits, ctx.snap
    n, minutes = limits.max_consecutive_losses, limits.loss_cooldown_minutes
    if n == 0 or minutes == 0 or snap.consecutive_losses < n:
        return _pass(RiskCode.LOSS_COOLDOWN, f"{snap.consecutive_losses} losing trades in a row; "
                     "no cooldown.", losses=snap.consecutive_losses)
    if snap.last_loss_time is None:
        return _deny(RiskCode.LOSS_COOLDOWN, f"{snap.consecutive_losses} losing trades in a row "
                     "and the time of the last one is unknown; wait for the cooldown.",
                     losses=snap.consecutive_losses)
    ends = _utc(snap.last_loss_time) + timedelta(minutes=minutes)
    if ctx.now < ends:
        left = math.ceil((ends - ctx.now).total_seconds() / 60)
        return _deny(RiskCode.LOSS_COOLDOWN, f"{snap.consecutive_losses} losing trades in a row; "
                     f"take a break for {left} more minutes.", losses=snap.consecutive_losses,
                     until=ends.isoformat())
    return _pass(RiskCode.LOSS_COOLDOWN, "The cooldown after your losing streak is over.",
                 losses=snap.consecutive_losses)


def currency_exposure(ctx: Context, include_order: bool) -> dict[str, float] | None:
    """Net notional per currency in the account currency; None if a price or rate is missing.

    A long of BASE/QUOTE adds volume*contract_size units of BASE and takes away that times the
    price in QUOTE, so long EURUSD + long EURGBP counts EUR twice.
    """
    snap, intent = ctx.snap, ctx.intent
    fx = snap.fx_to_account
    account_ccy = snap.account.currency
    legs = [(p.symbol, p.side.sign * p.volume, None) for p in snap.positions]
    if include_order:
        legs.append((intent.symbol, intent.side.sign * intent.volume, ctx.entry))
    out: dict[str, float] = {}
    for symbol, signed_lots, price in legs:
        spec = snap.spec if symbol == snap.spec.name else snap.specs.get(symbol)
        if price is None:
            price = snap.quote.mid if symbol == snap.spec.name else snap.prices.get(symbol)
        if spec is None or price is None:
            return None
        base, quote = spec.currency_base, spec.currency_profit
        if base == quote:  # a CFD quoted in its own currency carries no FX exposure
            continue
        rate_b = 1.0 if base == account_ccy else fx.get(base)
        rate_q = 1.0 if quote == account_ccy else fx.get(quote)
        if rate_b is None or rate_q is None:
            return None
        units = signed_lots * spec.contract_size
        out[base] = out.get(base, 0.0) + units * rate_b
        out[quote] = out.get(quote, 0.0) - units * price * rate_q
    return out


def check_currency_exposure(intent: OrderIntent, ctx: Context) -> Verdict:
    """No currency's net notional grows past the cap (a multiple of equity)."""
    code, cap = RiskCode.CURRENCY_EXPOSURE, ctx.limits.max_currency_exposure_x
    before, after = currency_exposure(ctx, False), currency_exposure(ctx, True)
    if before is None or after is None:
        return _deny(code, "A price or exchange rate for a currency you hold is missing, so "
                     "currency exposure cannot be measured.")
    equity = ctx.snap.account.equity
    for ccy, value in after.items():
        ratio = abs(value) / equity
        if not (ratio <= cap or abs(value) <= abs(before.get(ccy, 0.0))):
            return _deny(code, f"Your net {ccy} exposure would be {ratio:.1f}x equity; your cap "
                         f"is {cap:.1f}x.", currency=ccy, exposure_x=ratio, cap=cap)
    worst = max((abs(v) / equity for v in after.values()), default=0.0)
    return _pass(code, f"Largest net currency exposure would be {worst:.1f}x equity, within "
                 f"{cap:.1f}x.", exposure_x=worst)
