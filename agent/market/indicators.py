"""The indicator pack, computed with the `ta` package, and a cheap update for the latest bar.

Bars are a pandas frame with a UTC DatetimeIndex and float columns open, high, low, close,
oldest first; the last row may be the bar still forming. Indicators with too little history
are NaN (in `latest`, None): a warm-up value is never passed off as a reading.

Each indicator declares the tail of bars that reproduces its last value: rolling windows need
exactly their window, recursive (EMA / Wilder) ones need enough bars for the seed's influence
to decay below 1e-10 of its size, so the tail result equals the full computation to ~1e-12.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ta.momentum import RSIIndicator, StochasticOscillator
from ta.trend import MACD, ADXIndicator, EMAIndicator, SMAIndicator
from ta.volatility import AverageTrueRange, BollingerBands

from agent.domain import CompanionError

PRICE_COLUMNS = ("open", "high", "low", "close")
_DECAY = 1e-10  # seed influence left at the start of a tail


def _decay_tail(alpha: float) -> int:
    """Bars after which an exponential filter's seed weighs less than `_DECAY`."""
    return math.ceil(math.log(_DECAY) / math.log(1.0 - alpha))


@dataclass(frozen=True, slots=True)
class _Indicator:
    columns: tuple[str, ...]
    compute: Callable[[pd.DataFrame], tuple[pd.Series, ...]]
    tail: int  # bars that reproduce the last value (see module docstring)
    min_bars: int  # fewer bars than this: every column is NaN


def _warm(series: pd.Series, first_valid: int) -> pd.Series:
    """`series` with the rows before `first_valid` set to NaN (`ta` fills some with zeros)."""
    values = series.to_numpy(dtype=float, copy=True)
    values[:first_valid] = np.nan
    return pd.Series(values, index=series.index)


def _rsi(b: pd.DataFrame) -> tuple[pd.Series, ...]:
    return (RSIIndicator(b["close"], window=14).rsi(),)


def _macd(b: pd.DataFrame) -> tuple[pd.Series, ...]:
    m = MACD(b["close"], window_slow=26, window_fast=12, window_sign=9)
    return m.macd(), m.macd_signal(), m.macd_diff()


def _atr(b: pd.DataFrame) -> tuple[pd.Series, ...]:
    atr = AverageTrueRange(b["high"], b["low"], b["close"], window=14).average_true_range()
    return (_warm(atr, 14),)


def _bollinger(b: pd.DataFrame) -> tuple[pd.Series, ...]:
    bb = BollingerBands(b["close"], window=20, window_dev=2)
    return bb.bollinger_hband(), bb.bollinger_mavg(), bb.bollinger_lband()


def _ema(window: int) -> Callable[[pd.DataFrame], tuple[pd.Series, ...]]:
    return lambda b: (EMAIndicator(b["close"], window=window).ema_indicator(),)


def _sma(window: int) -> Callable[[pd.DataFrame], tuple[pd.Series, ...]]:
    return lambda b: (SMAIndicator(b["close"], window=window).sma_indicator(),)


def _adx(b: pd.DataFrame) -> tuple[pd.Series, ...]:
    adx = ADXIndicator(b["high"], b["low"], b["close"], window=14)
    return _warm(adx.adx(), 2 * 14), _warm(adx.adx_pos(), 14 + 1), _warm(adx.adx_neg(), 14 + 1)


def _stochastic(b: pd.DataFrame) -> tuple[pd.Series, ...]:
    st = StochasticOscillator(b["high"], b["low"], b["close"], window=14, smooth_window=3)
    return st.stoch(), st.stoch_signal()


_WILDER_14 = _decay_tail(1 / 14)

INDICATORS: tuple[_Indicator, ...] = (
    _Indicator(("rsi_14",), _rsi, _WILDER_14 + 15, 15),
    _Indicator(("macd", "macd_signal", "macd_hist"), _macd,
               _decay_tail(2 / 27) + _decay_tail(2 / 10) + 35, 34),
    _Indicator(("atr_14",), _atr, _WILDER_14 + 15, 15),
    _Indicator(("bb_upper", "bb_mid", "bb_lower"), _bollinger, 20, 20),
    _Indicator(("ema_20",), _ema(20), _decay_tail(2 / 21) + 20, 20),
    _Indicator(("ema_50",), _ema(50), _decay_tail(2 / 51) + 50, 50),
    _Indicator(("ema_200",), _ema(200), _decay_tail(2 / 201) + 200, 200),
    _Indicator(("sma_20",), _sma(20), 20, 20),
    _Indicator(("sma_50",), _sma(50), 50, 50),
    _Indicator(("adx_14", "plus_di_14", "minus_di_14"), _adx, 2 * _WILDER_14 + 30, 30),
    _Indicator(("stoch_k", "stoch_d"), _stochastic, 16, 16),
)

#: Column names the pack adds, in order.
INDICATOR_COLUMNS: tuple[str, ...] = tuple(c for ind in INDICATORS for c in ind.columns)
#: Bars that reproduce every indicator's latest value (the longest tail).
MAX_TAIL: int = max(ind.tail for ind in INDICATORS)


def _check(bars: pd.DataFrame) -> None:
    missing = [c for c in PRICE_COLUMNS if c not in bars.columns]
    if missing:
        raise CompanionError("bad_bars", f"Bars lack the columns {', '.join(missing)}.")
    if bars.empty:
        raise CompanionError("not_enough_bars", "No bars to compute indicators on.")


def _compute(ind: _Indicator, bars: pd.DataFrame) -> dict[str, pd.Series]:
    if len(bars) < ind.min_bars:
        return {c: pd.Series(np.nan, index=bars.index) for c in ind.columns}
    return dict(zip(ind.columns, ind.compute(bars), strict=True))


def _last_rows(bars: pd.DataFrame, rows: int) -> pd.DataFrame:
    """Indicator values of the last `rows` bars, each computed on its own tail only."""
    out: dict[str, np.ndarray] = {}
    for ind in INDICATORS:
        for col, series in _compute(ind, bars.iloc[-(ind.tail + rows - 1):]).items():
            out[col] = series.to_numpy(dtype=float)[-rows:]
    return pd.DataFrame(out, index=bars.index[-rows:])


def indicator_pack(bars: pd.DataFrame) -> pd.DataFrame:
    """`bars` with every indicator column of `INDICATOR_COLUMNS` added (NaN during warm-up)."""
    _check(bars)
    columns: dict[str, pd.Series] = {}
    for ind in INDICATORS:
        columns.update(_compute(ind, bars))
    return pd.concat([bars, pd.DataFrame(columns, index=bars.index)], axis=1)


def latest(bars: pd.DataFrame) -> dict[str, float | None]:
    """Close and every indicator on the last bar; None where history is too short.

    Computes on the needed tail only, so it costs the same on 500 or 100,000 bars.
    """
    _check(bars)
    row = _last_rows(bars, 1).iloc[-1]
    values = {"close": float(bars["close"].iloc[-1])} | {c: float(row[c]) for c in row.index}
    return {k: (None if math.isnan(v) else v) for k, v in values.items()}


def update_latest(pack: pd.DataFrame, bars: pd.DataFrame) -> pd.DataFrame:
    """The pack of `bars`, reusing `pack` (the pack of the previous bars) where it still holds.

    Cheap when the last bar changed (a tick) and/or one bar was added, even if the oldest bar
    dropped off the front (a sliding window): only the changed rows are recomputed, each
    indicator on its tail. Anything else (a gap, rewritten history) falls back to
    `indicator_pack(bars)`. Values equal the full computation to ~1e-12 (module docstring).
    """
    _check(bars)
    if (
        len(pack) < 2
        or len(bars) < 2
        or list(pack.columns) != [*bars.columns, *INDICATOR_COLUMNS]
    ):
        return indicator_pack(bars)
    last_old, before_old = pack.index[-1], pack.index[-2]
    pos = bars.index.searchsorted(last_old)
    new_rows = len(bars) - 1 - pos
    if (
        pos == 0
        or pos >= len(bars)
        or bars.index[pos] != last_old
        or new_rows > 1
        or bars.index[pos - 1] != before_old
        or not np.array_equal(
            bars[list(PRICE_COLUMNS)].iloc[pos - 1].to_numpy(),
            pack[list(PRICE_COLUMNS)].iloc[-2].to_numpy(),
        )
        or bars.index[0] < pack.index[0]
    ):
        return indicator_pack(bars)
    front = pack.index.searchsorted(bars.index[0])
    if pack.index[front] != bars.index[0]:
        return indicator_pack(bars)
    changed = 1 + new_rows
    fresh = pd.concat([bars.iloc[-changed:], _last_rows(bars, changed)], axis=1)
    return pd.concat([pack.iloc[front:-1], fresh[pack.columns]])
