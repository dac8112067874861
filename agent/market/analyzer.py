"""Market analysis: the indicator pack turned into a short structured summary with grounded facts.

Every number a fact sentence carries is a field of the summary, already rounded the way the
sentence shows it (prices to the symbol's digits, MACD to one digit more, oscillators to 2
decimals, ATR % to 3, distances in whole points), so the agent can quote facts and the numbers
can be checked against `to_dict()`. Indicators without enough history are listed in
`unavailable` and never guessed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime

import pandas as pd

from agent.domain import CompanionError
from agent.market import timeframes
from agent.market.indicators import indicator_pack
from agent.market.levels import Pivots, previous_day_pivots, support_resistance

#: Below this many bars there is no analysis at all (EMA50 plus its slope need it).
MIN_BARS = 60
#: Bars for a complete analysis (EMA200 plus its slope).
FULL_BARS = 210
SLOPE_BARS = 10  # EMA50 slope is measured over this many bars
ADX_TREND = 20.0  # below: no trend, whatever the EMA order
ADX_MODERATE = 25.0
ADX_STRONG = 40.0
RSI_OVERBOUGHT = 70.0
RSI_OVERSOLD = 30.0
VOL_WINDOW = 500  # bars over which the ATR percentile is taken
VOL_MIN_VALUES = 30
VOL_LOW_PCTL = 25
VOL_HIGH_PCTL = 75

_LABELS = {"ema_200": "EMA200", "ema_50": "EMA50", "ema_20": "EMA20"}


@dataclass(frozen=True, slots=True)
class Trend:
    direction: str  # "up" | "down" | "sideways"
    strength: str  # ADX: "strong" | "moderate" | "weak" | "absent"
    ema_20: float
    ema_50: float
    ema_200: float | None
    ema_50_slope_points: int  # change of EMA50 over `slope_bars`, in points
    slope_bars: int
    adx: float
    plus_di: float
    minus_di: float


@dataclass(frozen=True, slots=True)
class Momentum:
    rsi: float
    rsi_zone: str  # "overbought" | "bullish" | "neutral" | "bearish" | "oversold"
    macd_hist: float
    macd_hist_prev: float
    macd_hist_change: str  # "rising" | "falling" | "flat"
    stoch_k: float
    stoch_d: float


@dataclass(frozen=True, slots=True)
class Volatility:
    atr: float
    atr_pct: float  # ATR as % of the close
    atr_percentile: int | None  # rank of today's ATR % among the last `window` bars
    window: int
    regime: str  # "low" | "normal" | "high" | "unknown"


@dataclass(frozen=True, slots=True)
class KeyLevels:
    pivots: Pivots | None
    nearest_support: float | None
    support_distance_points: int | None
    nearest_resistance: float | None
    resistance_distance_points: int | None


@dataclass(frozen=True, slots=True)
class MarketSummary:
    """What the market looks like on one symbol and timeframe, as numbers and as sentences."""

    symbol: str
    timeframe: str
    digits: int
    bars: int
    last_time: datetime
    last_close: float
    trend: Trend
    momentum: Momentum
    volatility: Volatility
    levels: KeyLevels
    unavailable: tuple[str, ...]
    facts: tuple[str, ...]
    summary_text: str

    def to_dict(self) -> dict:
        """Plain JSON-ready data (times as ISO strings)."""
        data = asdict(self)
        data["last_time"] = self.last_time.isoformat()
        data["levels"]["pivots"] = self.levels.pivots.to_dict() if self.levels.pivots else None
        data["unavailable"] = list(self.unavailable)
        data["facts"] = list(self.facts)
        return data


@dataclass(frozen=True, slots=True)
class MultiTimeframeSummary:
    """Per-timeframe summaries, shortest timeframe first, and how their trends line up."""

    symbol: str
    summaries: dict[str, MarketSummary]
    aligned: str | None  # the common direction when every timeframe agrees, else None
    alignment: str

    def to_dict(self) -> dict:
        return {"symbol": self.symbol, "aligned": self.aligned, "alignment": self.alignment,
                "summaries": {tf: s.to_dict() for tf, s in self.summaries.items()}}


def _trend(row: pd.Series, slope_points: int, adx: float) -> tuple[str, str]:
    strength = ("strong" if adx >= ADX_STRONG else "moderate" if adx >= ADX_MODERATE
                else "weak" if adx >= ADX_TREND else "absent")
    e20, e50, e200 = row["ema_20"], row["ema_50"], row["ema_200"]
    up = e20 > e50 and (pd.isna(e200) or e50 > e200) and slope_points > 0
    down = e20 < e50 and (pd.isna(e200) or e50 < e200) and slope_points < 0
    if adx < ADX_TREND or not (up or down):
        return "sideways", strength
    return ("up" if up else "down"), strength


def _rsi_zone(rsi: float) -> str:
    if rsi >= RSI_OVERBOUGHT:
        return "overbought"
    if rsi <= RSI_OVERSOLD:
        return "oversold"
    return "bullish" if rsi > 50 else "bearish" if rsi < 50 else "neutral"


def _volatility(pack: pd.DataFrame, digits: int) -> Volatility:
    atr_pct = (pack["atr_14"] / pack["close"] * 100).iloc[-VOL_WINDOW:].dropna()
    current = atr_pct.iloc[-1]
    atr = round(float(pack["atr_14"].iloc[-1]), digits)
    if len(atr_pct) < VOL_MIN_VALUES:
        return Volatility(atr, round(float(current), 3), None, len(atr_pct), "unknown")
    percentile = round(float((atr_pct <= current).mean() * 100))
    regime = ("low" if percentile < VOL_LOW_PCTL else "high" if percentile > VOL_HIGH_PCTL
              else "normal")
    return Volatility(atr, round(float(current), 3), percentile, len(atr_pct), regime)


def _levels(bars: pd.DataFrame, close: float, atr: float, digits: int) -> KeyLevels:
    point = 10.0 ** -digits
    raw = previous_day_pivots(bars)
    pivots = None if raw is None else Pivots(raw.day, *(round(getattr(raw, k), digits)
                                                       for k in ("p", "r1", "r2", "r3",
                                                                 "s1", "s2", "s3")))
    sr = support_resistance(bars, atr)
    sup = round(sr.nearest_support.price, digits) if sr.nearest_support else None
    res = round(sr.nearest_resistance.price, digits) if sr.nearest_resistance else None
    return KeyLevels(
        pivots=pivots,
        nearest_support=sup,
        support_distance_points=None if sup is None else round((close - sup) / point),
        nearest_resistance=res,
        resistance_distance_points=None if res is None else round((res - close) / point),
    )


def _price(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _facts(s: MarketSummary) -> list[str]:
    d, t, m, v, lv = s.digits, s.trend, s.momentum, s.volatility, s.levels
    rel = lambda a, b: ">" if a > b else "<" if a < b else "="  # noqa: E731
    emas = f"EMA20 {_price(t.ema_20, d)} {rel(t.ema_20, t.ema_50)} EMA50 {_price(t.ema_50, d)}"
    if t.ema_200 is not None:
        emas += f" {rel(t.ema_50, t.ema_200)} EMA200 {_price(t.ema_200, d)}"
    strength = "no" if t.strength == "absent" else t.strength
    sign = "positive" if m.macd_hist > 0 else "negative" if m.macd_hist < 0 else "zero"
    facts = [
        f"{s.symbol} {s.timeframe} last close {_price(s.last_close, d)} at "
        f"{s.last_time:%Y-%m-%d %H:%M} UTC ({s.bars} bars).",
        f"Trend {t.direction}: {emas}; EMA50 moved {t.ema_50_slope_points:+d} points over "
        f"{t.slope_bars} bars; ADX {t.adx:.2f} ({strength} trend), "
        f"+DI {t.plus_di:.2f}, -DI {t.minus_di:.2f}.",
        f"Momentum: RSI {m.rsi:.2f} ({m.rsi_zone}); MACD histogram {m.macd_hist:.{d + 1}f} "
        f"({sign}, {m.macd_hist_change} from {m.macd_hist_prev:.{d + 1}f}); "
        f"Stochastic %K {m.stoch_k:.2f}, %D {m.stoch_d:.2f}.",
    ]
    if v.atr_percentile is None:
        facts.append(f"Volatility: ATR {_price(v.atr, d)} ({v.atr_pct:.3f}% of price); "
                     f"too little history for a regime.")
    else:
        facts.append(f"Volatility {v.regime}: ATR {_price(v.atr, d)} ({v.atr_pct:.3f}% of "
                     f"price), percentile {v.atr_percentile} of the last {v.window} bars.")
    if lv.pivots:
        p = lv.pivots
        facts.append(
            f"Pivots from {p.day.isoformat()}: S3 {_price(p.s3, d)}, S2 {_price(p.s2, d)}, "
            f"S1 {_price(p.s1, d)}, P {_price(p.p, d)}, R1 {_price(p.r1, d)}, "
            f"R2 {_price(p.r2, d)}, R3 {_price(p.r3, d)}.")
    support = ("no swing support below" if lv.nearest_support is None else
               f"nearest support {_price(lv.nearest_support, d)} "
               f"({lv.support_distance_points} points below)")
    resistance = ("no swing resistance above" if lv.nearest_resistance is None else
                  f"nearest resistance {_price(lv.nearest_resistance, d)} "
                  f"({lv.resistance_distance_points} points above)")
    facts.append(f"Levels: {support}; {resistance}.")
    if s.unavailable:
        names = ", ".join(_LABELS.get(n, n) for n in s.unavailable)
        facts.append(f"Unavailable for lack of history: {names} ({s.bars} bars).")
    return facts


def analyze(bars: pd.DataFrame, symbol: str, timeframe: str, *, digits: int = 5) -> MarketSummary:
    """Trend, momentum, volatility regime and key levels of `bars`, with grounded facts.

    Raises CompanionError("not_enough_bars") below `MIN_BARS`; between that and `FULL_BARS`
    the EMA200 is reported unavailable and the trend reads EMA20/EMA50 only.
    """
    tf = timeframes.parse(timeframe)
    if len(bars) < MIN_BARS:
        raise CompanionError(
            "not_enough_bars",
            f"{symbol} {tf} has {len(bars)} bars; analysis needs at least {MIN_BARS}.")
    if not bars.index.is_monotonic_increasing:
        raise CompanionError("bad_bars", "Bars must be ordered oldest first.")
    pack = indicator_pack(bars)
    row, prev = pack.iloc[-1], pack.iloc[-2]
    point = 10.0 ** -digits
    close = round(float(row["close"]), digits)
    slope = round((row["ema_50"] - pack["ema_50"].iloc[-1 - SLOPE_BARS]) / point)
    unavailable = tuple(n for n in ("ema_200",) if pd.isna(row[n]))
    direction, strength = _trend(row, slope, float(row["adx_14"]))
    r2 = lambda x: round(float(x), 2)  # noqa: E731
    hist, hist_prev = round(float(row["macd_hist"]), digits + 1), round(
        float(prev["macd_hist"]), digits + 1)
    summary = MarketSummary(
        symbol=symbol, timeframe=tf, digits=digits, bars=len(bars),
        last_time=pack.index[-1].to_pydatetime(), last_close=close,
        trend=Trend(
            direction=direction, strength=strength,
            ema_20=round(float(row["ema_20"]), digits), ema_50=round(float(row["ema_50"]), digits),
            ema_200=None if "ema_200" in unavailable else round(float(row["ema_200"]), digits),
            ema_50_slope_points=int(slope), slope_bars=SLOPE_BARS, adx=r2(row["adx_14"]),
            plus_di=r2(row["plus_di_14"]), minus_di=r2(row["minus_di_14"])),
        momentum=Momentum(
            rsi=r2(row["rsi_14"]), rsi_zone=_rsi_zone(r2(row["rsi_14"])),
            macd_hist=hist, macd_hist_prev=hist_prev,
            macd_hist_change="rising" if hist > hist_prev else "falling" if hist < hist_prev
            else "flat",
            stoch_k=r2(row["stoch_k"]), stoch_d=r2(row["stoch_d"])),
        volatility=_volatility(pack, digits),
        levels=_levels(bars, close, float(row["atr_14"]), digits),
        unavailable=unavailable, facts=(), summary_text="",
    )
    facts = _facts(summary)
    return replace(summary, facts=tuple(facts), summary_text=" ".join(facts))


def analyze_many(
    frames: dict[str, pd.DataFrame], symbol: str, *, digits: int = 5
) -> MultiTimeframeSummary:
    """`analyze` on each timeframe's bars, plus a sentence on how the trends line up."""
    summaries = {timeframes.parse(tf): analyze(bars, symbol, tf, digits=digits)
                 for tf, bars in frames.items()}
    ordered = dict(sorted(summaries.items(), key=lambda kv: timeframes.MINUTES[kv[0]]))
    directions = [s.trend.direction for s in ordered.values()]
    aligned = directions[0] if directions and len(set(directions)) == 1 else None
    if aligned:
        alignment = (f"Trend alignment: {aligned} on all {len(ordered)} timeframes "
                     f"({', '.join(ordered)}).")
    else:
        groups = {d: [tf for tf, s in ordered.items() if s.trend.direction == d]
                  for d in ("up", "down", "sideways")}
        parts = [f"{d} on {', '.join(tfs)}" for d, tfs in groups.items() if tfs]
        alignment = f"Trend alignment: mixed, {'; '.join(parts)}."
    return MultiTimeframeSummary(symbol, ordered, aligned, alignment)
