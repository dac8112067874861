"""Position sizing: lots from equity, risk %, stop distance and the symbol's tick value.

Deterministic arithmetic; nothing is silent. The size is rounded DOWN to the lot step, never
exceeds the symbol's maximum or the trader's lot cap, and never risks more than asked or more
than the per-trade limit; every cap that bound the answer is stated in `SizeResult.caps`. A stop
that the broker would refuse or trigger at once (on the wrong side, inside the spread, inside
the stops level) gets no size: volume 0, a `SizeCode` and a sentence, as does a trade whose
smallest lot would risk too much. Only malformed numbers raise.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from agent import wording
from agent.config import RiskLimits
from agent.domain import CompanionError, Side, SymbolSpec
from agent.risk.checks import money_at_risk, points_between


class SizeCode(StrEnum):
    """Why a size came out as it did."""

    SIZED = "sized"
    MIN_LOT_TOO_RISKY = "min_lot_too_risky"
    STOP_WRONG_SIDE = "stop_wrong_side"
    STOP_INSIDE_SPREAD = "stop_inside_spread"
    STOP_INSIDE_STOPS_LEVEL = "stop_inside_stops_level"


class CapCode(StrEnum):
    """A limit that made the answer smaller than the arithmetic alone would have."""

    RISK_PER_TRADE = "risk_per_trade"
    SYMBOL_VOLUME_MAX = "symbol_volume_max"
    VOLUME_CAP = "volume_cap"


@dataclass(frozen=True, slots=True)
class Cap:
    """One cap applied to a size, with the sentence the channels show."""

    code: CapCode
    message: str


@dataclass(frozen=True, slots=True)
class SizeResult:
    """Lots to trade and what they risk at the stop-loss (money in the account currency).

    `volume` 0 means no size: `code` and `reason` say why. `caps` lists every cap applied.
    """

    volume: float
    money_at_risk: float
    risk_pct: float
    sl_points: float
    reason: str
    code: SizeCode = SizeCode.SIZED
    caps: tuple[Cap, ...] = ()
    sl: float | None = None  # the stop-loss price sized for
    digits: int | None = None  # the symbol's, for prices and pips
    currency: str = ""  # of `money_at_risk`


def _step_decimals(step: float) -> int:
    """Decimals needed to print `step` exactly enough (0.01 -> 2, 0.5 -> 1, 1 -> 0)."""
    return max(0, -math.floor(math.log10(step) + 1e-9)) + 2


def floor_to_step(volume: float, step: float) -> float:
    """Round `volume` down to a whole number of `step`s, immune to float error (0.3/0.01)."""
    steps = math.floor(volume / step + 1e-9)
    return round(steps * step, _step_decimals(step))


def stop_refusal(side: Side, entry: float, close: float, sl: float,
                 spec: SymbolSpec) -> tuple[SizeCode, str] | None:
    """Why the broker would refuse a stop at `sl`, or trigger it at once; None when it is fine.

    `close` is the price the position would close at now (the bid for a buy, the ask for a
    sell): MT5 measures stops from it, as the risk engine's stop-loss rule does.
    """
    def at(x: float) -> str:
        return wording.price(x, spec.digits)

    if not side.sign * (entry - sl) > 0:
        where = "below" if side is Side.BUY else "above"
        return SizeCode.STOP_WRONG_SIDE, (f"For a {side.value} the stop-loss must be {where} "
                                          f"the entry price {at(entry)}; it is {at(sl)}.")
    gap = side.sign * (close - sl) / spec.point  # as the engine's stop-loss rule measures
    price = "bid" if side is Side.BUY else "ask"
    least = wording.distance(spec.stops_level, spec.digits)
    if not gap > 0:
        return SizeCode.STOP_INSIDE_SPREAD, (
            f"The stop-loss {at(sl)} is inside the spread: a {side.value} closes at the {price} "
            f"({at(close)}), so it would be stopped out at once. Put it "
            f"{'below' if side is Side.BUY else 'above'} {at(close)}, at least {least} away.")
    if not gap + 1e-6 >= spec.stops_level:
        return SizeCode.STOP_INSIDE_STOPS_LEVEL, (
            f"The stop-loss is {wording.distance(round(gap, 1), spec.digits)} from the {price} "
            f"({at(close)}); the broker needs at least {least}.")
    return None


def size_position(*, equity: float, risk_pct: float, entry: float, sl: float, spec: SymbolSpec,
                  limits: RiskLimits, side: Side | None = None, close: float | None = None,
                  currency: str = "") -> SizeResult:
    """Largest volume on the lot step whose loss at `sl` is at most `risk_pct` % of `equity`.

    `risk_pct` is capped by `limits.max_risk_per_trade_pct`. `side` defaults to the side the
    stop implies (a stop below the entry: buy); `close`, the price the position would close at
    now (bid for a buy, ask for a sell), defaults to `entry` (no spread known); `currency`, the
    account's, labels the money. Raises
    CompanionError (`invalid_input`) for NaN, infinite, zero or negative inputs.
    """
    numbers = {"equity": equity, "risk_pct": risk_pct, "entry": entry, "sl": sl,
               "tick_size": spec.tick_size, "tick_value": spec.tick_value,
               "volume_step": spec.volume_step, "volume_min": spec.volume_min,
               "volume_max": spec.volume_max, "point": spec.point,
               "close": entry if close is None else close}
    bad = [k for k, v in numbers.items() if not (math.isfinite(v) and v > 0)]
    if bad:
        raise CompanionError("invalid_input", f"Cannot size a position: {', '.join(bad)} must be "
                             "a finite positive number.")
    sl_points = points_between(entry, sl, spec.point)
    if sl_points == 0:
        raise CompanionError("invalid_input", "The stop-loss equals the entry price; move it "
                             "away to size a position.")
    side = side or (Side.BUY if sl < entry else Side.SELL)
    caps: list[Cap] = []
    limit = limits.max_risk_per_trade_pct
    if not risk_pct <= limit:
        caps.append(Cap(CapCode.RISK_PER_TRADE, f"Risk capped at your per-trade limit of "
                        f"{limit:g}% of equity; you asked for {wording.pct(risk_pct)}."))
    refused = stop_refusal(side, entry, numbers["close"], sl, spec)
    if refused is not None:
        return SizeResult(0.0, 0.0, 0.0, sl_points, refused[1], refused[0], tuple(caps),
                          sl, spec.digits, currency)
    risk = min(risk_pct, limit)
    budget = equity * risk / 100
    per_lot = money_at_risk(sl_points, 1.0, spec)
    raw = budget / per_lot if per_lot > 0 else math.inf
    cap = min(spec.volume_max, limits.max_volume_lots)
    volume = floor_to_step(min(raw, cap), spec.volume_step)
    # the engine's own comparison, so that what the sizer suggests the engine approves
    while volume > 0 and not money_at_risk(sl_points, volume, spec) / equity * 100 <= risk:
        volume = floor_to_step(volume - spec.volume_step, spec.volume_step)
    if volume < spec.volume_min - 1e-12:
        smallest = money_at_risk(sl_points, spec.volume_min, spec)
        return SizeResult(0.0, 0.0, 0.0, sl_points,
                          f"Even the smallest order, {spec.volume_min:g} lots, would risk "
                          f"{wording.money(smallest, currency)} "
                          f"({wording.pct(smallest / equity * 100)} of "
                          f"equity); your budget is {wording.money(budget, currency)} "
                          f"({wording.pct(risk)}). Use a closer stop-loss or skip "
                          "this trade.", SizeCode.MIN_LOT_TOO_RISKY, tuple(caps), sl, spec.digits,
                          currency)
    if raw > cap:
        caps.append(Cap(CapCode.SYMBOL_VOLUME_MAX, f"Capped at {cap:g} lots, the most {spec.name} "
                        "allows per order.") if spec.volume_max <= limits.max_volume_lots else
                    Cap(CapCode.VOLUME_CAP, f"Capped at your limit of {cap:g} lots per order."))
    at_risk = money_at_risk(sl_points, volume, spec)
    reason = (f"{volume:g} lots risk {wording.money(at_risk, currency)} "
              f"({wording.pct(at_risk / equity * 100)} of equity) at a stop "
              f"{wording.distance(sl_points, spec.digits)} away.")
    return SizeResult(volume, at_risk, at_risk / equity * 100, sl_points, reason, SizeCode.SIZED,
                      tuple(caps), sl, spec.digits, currency)


# -- what the trader types: risk as % or money, stops as a distance -----------------------------

_CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_RISK = re.compile(r"^(?:(?P<pre>[A-Z]{3}|[$€£¥])\s*)?(?P<amount>[0-9]*\.?[0-9]+)\s*"
                   r"(?P<post>%|[A-Z]{3}|[$€£¥])?$")
DISTANCE_UNITS = ("pips", "points")
#: The words a trader writes for a unit of distance.
UNIT_WORDS = {"pip": "pips", "pips": "pips", "point": "points", "points": "points",
              "pts": "points"}
_LEVEL = re.compile(r"^(?P<value>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[-+]?[0-9]+)?)\s*"
                    r"(?P<unit>[a-z]+)?$")


@dataclass(frozen=True, slots=True)
class RiskAsk:
    """The risk a trader asks for on one trade: a % of equity, or an amount of money in the
    currency written (`currency` is "" for a %)."""

    amount: float
    currency: str = ""

    @property
    def is_money(self) -> bool:
        return bool(self.currency)

    def pct_of(self, equity: float, account_currency: str) -> float:
        """The ask as a % of `equity`; CompanionError when the money is in another currency
        than the account's (no conversion is guessed)."""
        if not self.is_money:
            return self.amount
        if self.currency != account_currency.upper():
            raise CompanionError("risk_currency", f"Your account is in {account_currency}: give "
                                 f"the risk in {account_currency} (e.g. 50{account_currency}) "
                                 "or as a % of equity (e.g. 1%).")
        if not (math.isfinite(equity) and equity > 0):
            raise CompanionError("invalid_input", "Cannot size a position: equity must be a "
                                 "finite positive number.")
        return self.amount / equity * 100


def parse_risk(text: str) -> RiskAsk:
    """A risk as typed: "1%", "1" (a %), "50USD", "50 usd", "USD50", "$50", "50$".
    CompanionError (`bad_risk`) for anything else, or a risk that is not positive."""
    match = _RISK.match(str(text).strip().upper())
    pre, post = (match.group("pre"), match.group("post")) if match else (None, None)
    if match is None or (pre and post):
        raise CompanionError("bad_risk", f"'{text}' is not a risk: give a % of equity such as "
                             "1% or an amount such as 50USD.")
    amount = float(match.group("amount"))
    if not (math.isfinite(amount) and amount > 0):
        raise CompanionError("bad_risk", "The risk must be more than zero.")
    unit = pre or post or "%"
    return RiskAsk(amount, "" if unit == "%" else _CURRENCY_SIGNS.get(unit, unit))


def distance_points(value: float, unit: str, spec: SymbolSpec) -> float:
    """A distance the trader gave in pips or points, in points of `spec`
    (20 pips on EURUSD are 200 points)."""
    if unit not in DISTANCE_UNITS:
        raise CompanionError("bad_unit", f"'{unit}' is not a unit: say pips or points.")
    if not (math.isfinite(value) and value > 0):
        raise CompanionError("bad_distance", "A distance must be more than zero.")
    return value * wording.points_per_pip(spec.digits) if unit == "pips" else value


def level_at(side: Side, entry: float, points: float, spec: SymbolSpec, *, stop: bool) -> float:
    """The price `points` away from `entry` for a `side` position: the stop-loss on the losing
    side (below a buy's entry), the take-profit on the winning side; rounded to the digits."""
    direction = -side.sign if stop else side.sign
    return spec.round_price(entry + direction * points * spec.point)


def parse_level(text: str) -> tuple[float, str | None]:
    """A stop or target as typed: a price ("1.0750" -> (1.075, None)) or a distance from the
    entry ("20 pips", "20pips", "150 pts" -> (20.0, "pips"), (150.0, "points")).
    CompanionError (`bad_level`) for anything else, or a value that is not positive."""
    match = _LEVEL.match(str(text).strip().lower())
    unit = match.group("unit") if match else None
    if match is None or (unit is not None and unit not in UNIT_WORDS):
        raise CompanionError("bad_level", f"'{text}' is not a price (1.0750) or a distance "
                             "(20 pips, 150 points).")
    value = float(match.group("value"))
    if not value > 0:
        raise CompanionError("bad_level", "A price or a distance must be more than zero.")
    return value, UNIT_WORDS[unit] if unit else None
