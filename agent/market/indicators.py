"""The indicator pack, vectorized with numpy, and a cheap update for the latest bar.

Bars are a pandas frame with a UTC DatetimeIndex and float columns open, high, low, close,
oldest first; the last row may be the bar still forming. Indicators with too little history
are NaN (in `latest`, None): a warm-up value is never passed off as a reading.

The definitions are the `ta` package's (0.11), warm-up included, and every column equals
`ta`'s to 1e-9 relative (tests/market/test_indicators_reference.py). `ta` itself is not called:
it smooths ATR and ADX in Python loops, about 2 s for 100,000 bars. Here each filter is numpy
in C: exponential smoothing in closed form per block (`_recurrence`), rolling sums and extremes
by doubling (`_window`).

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

from agent.domain import CompanionError

PRICE_COLUMNS = ("open", "high", "low", "close")
_DECAY = 1e-10  # seed influence left at the start of a tail
_BLOCK_SPREAD = 1e3  # largest weight ratio inside one block of `_recurrence` (3 of 16 digits)


def _decay_tail(alpha: float) -> int:
    """Bars after which an exponential filter's seed weighs less than `_DECAY`."""
    return math.ceil(math.log(_DECAY) / math.log(1.0 - alpha))


# ---------------------------------------------------------------------------------------------
# Filters


def _recurrence(u: np.ndarray, c: float) -> np.ndarray:
    """y[t] = c * y[t-1] + u[t] with y[-1] = 0, for 0 < c < 1, without a Python loop.

    Bars are cut in blocks of L with c**-L <= `_BLOCK_SPREAD`. Inside block b, with y_in the
    value before it: y[bL + j] = c**j * cumsum_i(u[bL + i] / c**i)[j] + c**(j+1) * y_in.
    The block ends follow the same recurrence with factor c**L, solved by doubling
    (e[b] += c**(Lk) * e[b-k] for k = 1, 2, 4, ...).
    """
    size = max(1, int(math.log(_BLOCK_SPREAD) / math.log(1.0 / c)))
    rows = -(-len(u) // size)
    blocks = np.zeros((rows, size))
    blocks.reshape(-1)[: len(u)] = u
    powers = c ** np.arange(size + 1)
    blocks /= powers[:-1]
    np.cumsum(blocks, axis=1, out=blocks)
    blocks *= powers[:-1]
    ends, factor, k = blocks[:, -1].copy(), powers[-1], 1
    while k < rows:
        ends[k:] += factor * ends[:-k]
        factor, k = factor * factor, 2 * k
    blocks[1:] += np.multiply.outer(ends[:-1], powers[1:])
    return blocks.reshape(-1)[: len(u)]


def _smooth(x: np.ndarray, alpha: float, start: int, seed: float) -> np.ndarray:
    """Exponential smoothing: y[start] = seed, then y[t] = (1 - alpha) * y[t-1] + alpha * x[t].

    NaN before `start`. This is pandas' `ewm(alpha=alpha, adjust=False).mean()` of
    [seed, x[start+1], ...].
    """
    u = np.zeros(len(x))
    if start < len(x):
        u[start] = seed
        np.multiply(x[start + 1 :], alpha, out=u[start + 1 :])
    y = _recurrence(u, 1.0 - alpha)
    y[:start] = np.nan
    return y


def _ema(x: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """EMA(n), alpha = 2 / (n + 1), seeded with x[start]; NaN for its first n-1 bars.

    `ta`'s `_ema`: pandas `ewm(span=n, min_periods=n, adjust=False)` of x from `start`.
    """
    return _masked(_smooth(x, 2.0 / (n + 1), start, x[start]), start + n - 1)


def _wilder(x: np.ndarray, n: int, start: int) -> np.ndarray:
    """Wilder's mean: SMA of x[start : start+n] at start+n-1, then an EMA with alpha = 1/n."""
    seed_at = start + n - 1
    seed = x[start : seed_at + 1].mean() if seed_at < len(x) else np.nan
    return _smooth(x, 1.0 / n, seed_at, seed)


def _window(x: np.ndarray, n: int, op: np.ufunc) -> np.ndarray:
    """`op` (np.add, np.maximum, np.minimum) over the last n values; NaN for the first n-1 bars.

    By doubling: spans of 1, 2, 4, ... bars (acc[i] = op over x[i : i+span]) are joined for
    the binary digits of n, about 2 * log2(n) array passes; sums are tree-shaped, no running
    sum that drifts.
    """
    out = np.full(len(x), np.nan)
    if len(x) < n:
        return out
    acc, span = x, 1
    result, covered = None, 0  # result[i] = op over x[i : i+covered]
    rest = n
    while True:
        if rest & 1:
            result = acc if result is None else op(result[: len(acc) - covered], acc[covered:])
            covered += span
        rest >>= 1
        if not rest:
            break
        acc, span = op(acc[:-span], acc[span:]), 2 * span
    out[n - 1 :] = result
    return out


def _sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average: sum of the last n values / n."""
    return _window(x, n, np.add) / n


def _masked(x: np.ndarray, first_valid: int) -> np.ndarray:
    """`x` with the rows before `first_valid` set to NaN (in place)."""
    x[:first_valid] = np.nan
    return x


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (`ta`'s rule for +DI, -DI and DX)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, 0.0, num / den)


def _true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """max(high - low, |high - prev close|, |low - prev close|); high - low on the first bar."""
    tr = high - low
    for extreme in (high, low):
        gap = np.abs(extreme[1:] - close[:-1])
        np.maximum(tr[1:], gap, out=tr[1:])
    return tr


# ---------------------------------------------------------------------------------------------
# Indicators: each takes the price arrays and returns its columns; first valid rows as in `ta`

Prices = dict[str, np.ndarray]  # "high", "low", "close" as float arrays


@dataclass(frozen=True, slots=True)
class _Indicator:
    columns: tuple[str, ...]
    compute: Callable[[Prices], tuple[np.ndarray, ...]]
    tail: int  # bars that reproduce the last value (see module docstring)
    min_bars: int  # fewer bars than this: every column is NaN


def _rsi(p: Prices) -> tuple[np.ndarray, ...]:
    """RSI(14) = 100 - 100 / (1 + EMA(up) / EMA(down)), alpha 1/14 from bar 0; 100 if EMA(down) = 0.

    `ta` counts the first bar as a zero move, so the first value is on bar 13.
    """
    move = np.diff(p["close"], prepend=np.nan)
    up = np.where(move > 0, move, 0.0)
    down = np.where(move < 0, -move, 0.0)
    avg_up = _masked(_smooth(up, 1 / 14, 0, up[0]), 13)
    avg_down = _masked(_smooth(down, 1 / 14, 0, down[0]), 13)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.where(avg_down == 0, 100.0, 100 - 100 / (1 + avg_up / avg_down)),)


def _macd(p: Prices) -> tuple[np.ndarray, ...]:
    """MACD = EMA12 - EMA26 (from bar 25), signal = EMA9 of MACD (from bar 33), hist = difference."""
    macd = _ema(p["close"], 12) - _ema(p["close"], 26)
    signal = _ema(macd, 9, start=25)
    return macd, signal, macd - signal


def _atr(p: Prices) -> tuple[np.ndarray, ...]:
    """ATR(14) = Wilder's mean of the true range from bar 0 (seeded on bar 13, shown from 14)."""
    return (_masked(_wilder(_true_range(p["high"], p["low"], p["close"]), 14, 0), 14),)


def _bollinger(p: Prices) -> tuple[np.ndarray, ...]:
    """SMA20 +/- 2 population standard deviations of the last 20 closes.

    The deviation is pandas' rolling std, as in `ta`: in C, stable, and a sum-of-squares
    shortcut would lose digits on flat windows.
    """
    close = p["close"]
    mid = _sma(close, 20)
    dev = 2 * pd.Series(close).rolling(20).std(ddof=0).to_numpy()
    return mid + dev, mid, mid - dev


def _ema_of(n: int) -> Callable[[Prices], tuple[np.ndarray, ...]]:
    return lambda p: (_ema(p["close"], n),)


def _sma_of(n: int) -> Callable[[Prices], tuple[np.ndarray, ...]]:
    return lambda p: (_sma(p["close"], n),)


def _adx(p: Prices) -> tuple[np.ndarray, ...]:
    """ADX(14) with +DI and -DI, Wilder's definitions as `ta` computes them.

    +DM = up move if it beats the down move and is positive, else 0 (-DM mirrored);
    +DI = 100 * Wilder(+DM) / Wilder(TR), both from bar 1 (ta's smoothed sums are 14 times
    these means; the ratio is the same), shown from bar 15; DX = 100 * |+DI - -DI| / (+DI + -DI);
    ADX = Wilder's mean of DX from bar 14, shown from bar 28. A zero denominator gives 0.
    """
    high, low = p["high"], p["low"]
    up = np.diff(high, prepend=np.nan)
    down = -np.diff(low, prepend=np.nan)
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    tr = _wilder(_true_range(high, low, p["close"]), 14, 1)
    plus_di = _ratio(100 * _wilder(plus_dm, 14, 1), tr)
    minus_di = _ratio(100 * _wilder(minus_dm, 14, 1), tr)
    dx = _ratio(100 * np.abs(plus_di - minus_di), plus_di + minus_di)
    return _masked(_wilder(dx, 14, 14), 28), _masked(plus_di, 15), _masked(minus_di, 15)


def _stochastic(p: Prices) -> tuple[np.ndarray, ...]:
    """%K = 100 * (close - lowest low 14) / (highest high 14 - lowest low 14), %D = SMA3 of %K."""
    lowest = _window(p["low"], 14, np.minimum)
    highest = _window(p["high"], 14, np.maximum)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 100 * (p["close"] - lowest) / (highest - lowest)
    return k, _sma(k, 3)


_WILDER_14 = _decay_tail(1 / 14)

INDICATORS: tuple[_Indicator, ...] = (
    _Indicator(("rsi_14",), _rsi, _WILDER_14 + 15, 15),
    _Indicator(("macd", "macd_signal", "macd_hist"), _macd,
               _decay_tail(2 / 27) + _decay_tail(2 / 10) + 35, 34),
    _Indicator(("atr_14",), _atr, _WILDER_14 + 15, 15),
    _Indicator(("bb_upper", "bb_mid", "bb_lower"), _bollinger, 20, 20),
    _Indicator(("ema_20",), _ema_of(20), _decay_tail(2 / 21) + 20, 20),
    _Indicator(("ema_50",), _ema_of(50), _decay_tail(2 / 51) + 50, 50),
    _Indicator(("ema_200",), _ema_of(200), _decay_tail(2 / 201) + 200, 200),
    _Indicator(("sma_20",), _sma_of(20), 20, 20),
    _Indicator(("sma_50",), _sma_of(50), 50, 50),
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


def _prices(bars: pd.DataFrame) -> Prices:
    return {c: bars[c].to_numpy(dtype=float) for c in ("high", "low", "close")}


def _compute(ind: _Indicator, prices: Prices) -> tuple[np.ndarray, ...]:
    size = len(prices["close"])
    if size < ind.min_bars:
        return tuple(np.full(size, np.nan) for _ in ind.columns)
    return ind.compute(prices)


def _last_rows(bars: pd.DataFrame, rows: int) -> pd.DataFrame:
    """Indicator values of the last `rows` bars, each computed on its own tail only."""
    prices = _prices(bars)
    out: dict[str, np.ndarray] = {}
    for ind in INDICATORS:
        tail = {k: v[-(ind.tail + rows - 1):] for k, v in prices.items()}
        for col, values in zip(ind.columns, _compute(ind, tail), strict=True):
            out[col] = values[-rows:]
    return pd.DataFrame(out, index=bars.index[-rows:])


def indicator_pack(bars: pd.DataFrame) -> pd.DataFrame:
    """`bars` with every indicator column of `INDICATOR_COLUMNS` added (NaN during warm-up)."""
    _check(bars)
    prices = _prices(bars)
    values = np.stack([v for ind in INDICATORS for v in _compute(ind, prices)])
    # pandas keeps a float block as (columns, rows): the transpose is adopted without a copy
    columns = pd.DataFrame(values.T, index=bars.index, columns=list(INDICATOR_COLUMNS), copy=False)
    return pd.concat([bars, columns], axis=1)


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

    Cheap on long histories when the last bar changed (a tick) and/or one bar was added, even
    if the oldest bar dropped off the front (a sliding window): only the changed rows are
    recomputed, each indicator on its tail. Anything else (a gap, rewritten history) falls back to
    `indicator_pack(bars)`. Values equal the full computation to ~1e-12 (module docstring).
    """
    _check(bars)
    if (
        len(bars) <= MAX_TAIL  # a short window: the vectorized full pack is cheaper
        or len(pack) < 2
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
