"""Key price levels: classic floor pivots and swing-point support / resistance.

Pivots come from the previous completed trading day (UTC dates; weekend bars count towards
the next Monday, so Monday's pivots come from Friday's session and a few Sunday bars never
make a day of their own). Support and resistance come from swing highs and lows, merged into
one level when closer than a fraction of ATR, and split by the last close.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True)
class Pivots:
    """Classic floor pivots from one day's high, low and close. S3 < S2 < S1 < P < R1 < R2 < R3."""

    day: date
    p: float
    r1: float
    r2: float
    r3: float
    s1: float
    s2: float
    s3: float

    def to_dict(self) -> dict:
        return asdict(self) | {"day": self.day.isoformat()}


@dataclass(frozen=True, slots=True)
class Level:
    """A support or resistance level: the mean price of the swing points merged into it."""

    price: float
    touches: int
    last_touch: datetime

    def to_dict(self) -> dict:
        return {"price": self.price, "touches": self.touches,
                "last_touch": self.last_touch.isoformat()}


@dataclass(frozen=True, slots=True)
class SupportResistance:
    """Levels below (supports, nearest first) and above (resistances, nearest first) a price."""

    price: float
    supports: tuple[Level, ...]
    resistances: tuple[Level, ...]

    @property
    def nearest_support(self) -> Level | None:
        return self.supports[0] if self.supports else None

    @property
    def nearest_resistance(self) -> Level | None:
        return self.resistances[0] if self.resistances else None


def floor_pivots(high: float, low: float, close: float, day: date) -> Pivots:
    """Classic floor pivots from one session's high, low and close."""
    p = (high + low + close) / 3
    return Pivots(
        day=day, p=p,
        r1=2 * p - low, r2=p + (high - low), r3=high + 2 * (p - low),
        s1=2 * p - high, s2=p - (high - low), s3=low - 2 * (high - p),
    )


def _trading_day(index: pd.DatetimeIndex) -> np.ndarray:
    """UTC date of each bar, with Saturday and Sunday bars moved to the next Monday."""
    days = index.normalize()
    weekday = index.day_of_week
    shift = np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))
    return (days + pd.to_timedelta(shift, unit="D")).to_numpy()


def previous_day_pivots(bars: pd.DataFrame) -> Pivots | None:
    """Pivots of the last completed trading day before the last bar's day; None without one.

    For daily or longer bars each bar is its own session: the pivots come from the bar before
    the last.
    """
    if len(bars) < 2:
        return None
    spacing = (bars.index[1:] - bars.index[:-1]).min()
    if spacing >= pd.Timedelta(days=1):
        prev = bars.iloc[-2]
        return floor_pivots(prev["high"], prev["low"], prev["close"], bars.index[-2].date())
    day = _trading_day(bars.index)
    earlier = day[day < day[-1]]
    if earlier.size == 0:
        return None
    session = bars[day == earlier[-1]]
    return floor_pivots(
        float(session["high"].max()), float(session["low"].min()),
        float(session["close"].iloc[-1]), pd.Timestamp(earlier[-1]).date(),
    )


def swing_points(bars: pd.DataFrame, *, strength: int = 3) -> pd.Series:
    """Prices of confirmed swing highs and lows, indexed by bar time, oldest first.

    A swing high is a high strictly above the `strength` bars before it and not below the
    `strength` bars after it (so equal twin tops count once); lows mirror that. The last
    `strength` bars cannot be confirmed yet and are never swing points.
    """
    if len(bars) < 2 * strength + 1:
        return pd.Series(dtype=float)
    high, low = bars["high"], bars["low"]
    before_high = high.shift(1).rolling(strength).max()
    after_high = high[::-1].shift(1).rolling(strength).max()[::-1]
    before_low = low.shift(1).rolling(strength).min()
    after_low = low[::-1].shift(1).rolling(strength).min()[::-1]
    is_high = (high > before_high) & (high >= after_high)
    is_low = (low < before_low) & (low <= after_low)
    points = pd.concat([high[is_high], low[is_low]]).sort_index()
    return points.astype(float)


def support_resistance(
    bars: pd.DataFrame,
    atr: float,
    *,
    strength: int = 3,
    lookback: int = 300,
    merge_atr: float = 0.25,
) -> SupportResistance:
    """Swing levels of the last `lookback` bars, merged within `merge_atr` x ATR, around the close.

    A merged level sitting within the merge distance of the close is neither support nor
    resistance (price is on it) and is left out.
    """
    recent = bars.iloc[-lookback:]
    price = float(recent["close"].iloc[-1])
    points = swing_points(recent, strength=strength)
    merge = merge_atr * atr if atr > 0 else 0.0
    clusters: list[list[tuple[float, datetime]]] = []
    for price_i, time_i in sorted(zip(points.to_numpy(), points.index, strict=True)):
        if clusters and price_i - clusters[-1][0][0] <= merge:
            clusters[-1].append((price_i, time_i))
        else:
            clusters.append([(price_i, time_i)])
    levels = [
        Level(price=float(np.mean([p for p, _ in c])), touches=len(c),
              last_touch=max(t for _, t in c).to_pydatetime())
        for c in clusters
    ]
    supports = sorted((lv for lv in levels if lv.price < price - merge),
                      key=lambda lv: -lv.price)
    resistances = sorted((lv for lv in levels if lv.price > price + merge),
                         key=lambda lv: lv.price)
    return SupportResistance(price, tuple(supports), tuple(resistances))
