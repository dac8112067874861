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
from dataclasses import dataclass
from enum import StrEnum

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
    if not side.sign * (entry - sl) > 0:
        where = "below" if side is Side.BUY else "above"
        return SizeCode.STOP_WRONG_SIDE, (f"For a {side.value} the stop-loss must be {where} "
                                          f"the entry price {entry:g}; it is {sl:g}.")
    distance = side.sign * (close - sl) / spec.point  # as the engine's stop-loss rule measures
    price = "bid" if side is Side.BUY else "ask"
    if not distance > 0:
        return SizeCode.STOP_INSIDE_SPREAD, (
            f"The stop-loss {sl:g} is inside the spread: a {side.value} closes at the {price} "
            f"({close:g}), so it would be stopped out at once. Put it "
            f"{'below' if side is Side.BUY else 'above'} {close:g}, at least "
            f"{spec.stops_level} points away.")
    if not distance + 1e-6 >= spec.stops_level:
        return SizeCode.STOP_INSIDE_STOPS_LEVEL, (
            f"The stop-loss is {distance:.1f} points from the {price} ({close:g}); the broker "
            f"needs at least {spec.stops_level} points.")
    return None


def size_position(*, equity: float, risk_pct: float, entry: float, sl: float, spec: SymbolSpec,
                  limits: RiskLimits, side: Side | None = None,
                  close: float | None = None) -> SizeResult:
    """Largest volume on the lot step whose loss at `sl` is at most `risk_pct` % of `equity`.

    `risk_pct` is capped by `limits.max_risk_per_trade_pct`. `side` defaults to the side the
    stop implies (a stop below the entry: buy); `close`, the price the position would close at
    now (bid for a buy, ask for a sell), defaults to `entry` (no spread known). Raises
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
                        f"{limit:g}% of equity; you asked for {risk_pct:g}%."))
    refused = stop_refusal(side, entry, numbers["close"], sl, spec)
    if refused is not None:
        return SizeResult(0.0, 0.0, 0.0, sl_points, refused[1], refused[0], tuple(caps))
    pct = min(risk_pct, limit)
    budget = equity * pct / 100
    per_lot = money_at_risk(sl_points, 1.0, spec)
    raw = budget / per_lot if per_lot > 0 else math.inf
    cap = min(spec.volume_max, limits.max_volume_lots)
    volume = floor_to_step(min(raw, cap), spec.volume_step)
    # the engine's own comparison, so that what the sizer suggests the engine approves
    while volume > 0 and not money_at_risk(sl_points, volume, spec) / equity * 100 <= pct:
        volume = floor_to_step(volume - spec.volume_step, spec.volume_step)
    if volume < spec.volume_min - 1e-12:
        smallest = money_at_risk(sl_points, spec.volume_min, spec)
        return SizeResult(0.0, 0.0, 0.0, sl_points,
                          f"Even the smallest order, {spec.volume_min:g} lots, would risk "
                          f"{smallest:,.2f} ({smallest / equity * 100:.2f}% of equity); your "
                          f"budget is {budget:,.2f} ({pct:.2f}%). Use a closer stop-loss or skip "
                          "this trade.", SizeCode.MIN_LOT_TOO_RISKY, tuple(caps))
    if raw > cap:
        caps.append(Cap(CapCode.SYMBOL_VOLUME_MAX, f"Capped at {cap:g} lots, the most {spec.name} "
                        "allows per order.") if spec.volume_max <= limits.max_volume_lots else
                    Cap(CapCode.VOLUME_CAP, f"Capped at your limit of {cap:g} lots per order."))
    money = money_at_risk(sl_points, volume, spec)
    reason = (f"{volume:g} lots risk {money:,.2f} ({money / equity * 100:.2f}% of equity) at a "
              f"stop {sl_points:.0f} points away.")
    return SizeResult(volume, money, money / equity * 100, sl_points, reason, SizeCode.SIZED,
                      tuple(caps))
