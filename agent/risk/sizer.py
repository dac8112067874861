"""Position sizing: lots from equity, risk %, stop distance and the symbol's tick value.

Deterministic arithmetic. The size is rounded DOWN to the lot step, never exceeds the symbol's
maximum or the trader's lot cap, and never risks more than asked. When even the smallest lot
would risk too much, the answer is volume 0 with a reason, not an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agent.config import RiskLimits
from agent.domain import CompanionError, SymbolSpec
from agent.risk.checks import money_at_risk, points_between


@dataclass(frozen=True, slots=True)
class SizeResult:
    """Lots to trade and what they risk at the stop-loss (money in the account currency)."""

    volume: float
    money_at_risk: float
    risk_pct: float
    sl_points: float
    reason: str


def _step_decimals(step: float) -> int:
    """Decimals needed to print `step` exactly enough (0.01 -> 2, 0.5 -> 1, 1 -> 0)."""
    return max(0, -math.floor(math.log10(step) + 1e-9)) + 2


def floor_to_step(volume: float, step: float) -> float:
    """Round `volume` down to a whole number of `step`s, immune to float error (0.3/0.01)."""
    steps = math.floor(volume / step + 1e-9)
    return round(steps * step, _step_decimals(step))


def size_position(*, equity: float, risk_pct: float, entry: float, sl: float, spec: SymbolSpec,
                  limits: RiskLimits) -> SizeResult:
    """Largest volume on the lot step whose loss at `sl` is at most `risk_pct` % of `equity`.

    `risk_pct` is also capped by `limits.max_risk_per_trade_pct`. Raises CompanionError
    (`invalid_input`) for NaN, infinite, zero or negative inputs.
    """
    numbers = {"equity": equity, "risk_pct": risk_pct, "entry": entry, "sl": sl,
               "tick_size": spec.tick_size, "tick_value": spec.tick_value,
               "volume_step": spec.volume_step, "volume_min": spec.volume_min,
               "volume_max": spec.volume_max, "point": spec.point}
    bad = [k for k, v in numbers.items() if not (math.isfinite(v) and v > 0)]
    if bad:
        raise CompanionError("invalid_input", f"Cannot size a position: {', '.join(bad)} must be "
                             "a finite positive number.")
    sl_points = points_between(entry, sl, spec.point)
    if sl_points == 0:
        raise CompanionError("invalid_input", "The stop-loss equals the entry price; move it "
                             "away to size a position.")
    pct = min(risk_pct, limits.max_risk_per_trade_pct)
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
                          "this trade.")
    money = money_at_risk(sl_points, volume, spec)
    reason = (f"{volume:g} lots risk {money:,.2f} ({money / equity * 100:.2f}% of equity) at a "
              f"stop {sl_points:.0f} points away.")
    if raw > cap:
        reason += f" Capped at {cap:g} lots."
    return SizeResult(volume, money, money / equity * 100, sl_points, reason)
