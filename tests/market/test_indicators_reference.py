"""The vectorized pack equals the `ta` package (0.11) column by column, and TA-Lib on the last bars.

`ta_reference` is the pack as it was computed with `ta` before vectorizing: the numbers to keep.
Agreement: 1e-9 relative and the same NaN (warm-up) rows. The MACD lines are differences of two
price EMAs and cross zero, so their rounding is relative to the price, not to themselves: for
them 1e-13 of the close also passes (~500 ulps of the price; the two implementations differ by 2).
"""

import numpy as np
import pandas as pd
import pytest
from ta.momentum import RSIIndicator, StochasticOscillator
from ta.trend import MACD, ADXIndicator, EMAIndicator, SMAIndicator
from ta.volatility import AverageTrueRange, BollingerBands

from agent.market.indicators import INDICATOR_COLUMNS, INDICATORS, indicator_pack

RTOL = 1e-9
PRICE_DIFFERENCES = {"macd", "macd_signal", "macd_hist"}
PRICE_ATOL = 1e-13


def warm(series: pd.Series, first_valid: int) -> pd.Series:
    """`series` with its first rows NaN: `ta` fills ATR's and ADX's warm-up with zeros."""
    return series.where(np.arange(len(series)) >= first_valid)


def ta_macd(h, lo, c):
    m = MACD(c, window_slow=26, window_fast=12, window_sign=9)
    return m.macd(), m.macd_signal(), m.macd_diff()


def ta_bollinger(h, lo, c):
    bb = BollingerBands(c, window=20, window_dev=2)
    return bb.bollinger_hband(), bb.bollinger_mavg(), bb.bollinger_lband()


def ta_adx(h, lo, c):
    adx = ADXIndicator(h, lo, c, window=14)
    return warm(adx.adx(), 28), warm(adx.adx_pos(), 15), warm(adx.adx_neg(), 15)


def ta_stochastic(h, lo, c):
    st = StochasticOscillator(h, lo, c, window=14, smooth_window=3)
    return st.stoch(), st.stoch_signal()


#: First column of each indicator -> its `ta` computation on (high, low, close).
TA = {
    "rsi_14": lambda h, lo, c: (RSIIndicator(c, window=14).rsi(),),
    "macd": ta_macd,
    "atr_14": lambda h, lo, c: (
        warm(AverageTrueRange(h, lo, c, window=14).average_true_range(), 14),),
    "bb_upper": ta_bollinger,
    "ema_20": lambda h, lo, c: (EMAIndicator(c, window=20).ema_indicator(),),
    "ema_50": lambda h, lo, c: (EMAIndicator(c, window=50).ema_indicator(),),
    "ema_200": lambda h, lo, c: (EMAIndicator(c, window=200).ema_indicator(),),
    "sma_20": lambda h, lo, c: (SMAIndicator(c, window=20).sma_indicator(),),
    "sma_50": lambda h, lo, c: (SMAIndicator(c, window=50).sma_indicator(),),
    "adx_14": ta_adx,
    "stoch_k": ta_stochastic,
}


def ta_reference(bars: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, pd.Series]:
    """`columns` (one indicator's) computed by `ta`."""
    series = TA[columns[0]](bars["high"], bars["low"], bars["close"])
    return dict(zip(columns, series, strict=True))


def talib_reference(talib, bars: pd.DataFrame) -> dict[str, np.ndarray]:
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    upper, mid, lower = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    k, d = talib.STOCHF(h, lo, c, fastk_period=14, fastd_period=3, fastd_matype=0)
    return {
        "rsi_14": talib.RSI(c, 14), "macd": macd, "macd_signal": signal, "macd_hist": hist,
        "atr_14": talib.ATR(h, lo, c, 14), "bb_upper": upper, "bb_mid": mid, "bb_lower": lower,
        "ema_20": talib.EMA(c, 20), "ema_50": talib.EMA(c, 50), "ema_200": talib.EMA(c, 200),
        "sma_20": talib.SMA(c, 20), "sma_50": talib.SMA(c, 50), "adx_14": talib.ADX(h, lo, c, 14),
        "plus_di_14": talib.PLUS_DI(h, lo, c, 14), "minus_di_14": talib.MINUS_DI(h, lo, c, 14),
        "stoch_k": k, "stoch_d": d,
    }


def assert_same_column(column: str, got, want, close) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{column}: NaN rows differ"
    atol = PRICE_ATOL * np.asarray(close) if column in PRICE_DIFFERENCES else 0.0
    valid = ~np.isnan(want)
    bad = np.abs(got - want)[valid] > (RTOL * np.abs(want) + atol)[valid]
    assert not bad.any(), (
        f"{column}: {bad.sum()} rows differ, e.g. {got[valid][bad][:3]} vs {want[valid][bad][:3]}")


@pytest.mark.parametrize("ind", INDICATORS, ids=lambda ind: ind.columns[0])
def test_every_column_equals_ta_on_real_bars(eurusd, ind):
    ours = indicator_pack(eurusd)
    for column, want in ta_reference(eurusd, ind.columns).items():
        assert_same_column(column, ours[column], want, eurusd["close"])


@pytest.mark.parametrize("rows", [14, 15, 16, 20, 29, 30, 33, 34, 50, 199, 200, 201])
def test_short_histories_are_nan_below_the_minimum_and_ta_from_it(eurusd, rows):
    bars = eurusd.iloc[:rows]
    ours = indicator_pack(bars)
    for ind in INDICATORS:
        if rows < ind.min_bars:
            assert ours[list(ind.columns)].isna().all().all(), ind.columns
            continue
        for column, want in ta_reference(bars, ind.columns).items():
            assert_same_column(column, ours[column], want, bars["close"])


def test_last_bars_equal_talib(eurusd):
    """TA-Lib (when installed) agrees on the last 100 bars, where warm-up conventions have decayed."""
    talib = pytest.importorskip("talib")
    ours = indicator_pack(eurusd).iloc[-100:]
    close = eurusd["close"].iloc[-100:]
    ref = talib_reference(talib, eurusd)
    for column in INDICATOR_COLUMNS:
        assert_same_column(column, ours[column], ref[column][-100:], close)
