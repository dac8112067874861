import numpy as np
import pandas as pd
import pytest

from agent.domain import CompanionError
from agent.market import indicators
from agent.market.indicators import (
    INDICATOR_COLUMNS,
    INDICATORS,
    indicator_pack,
    latest,
    update_latest,
)

# Tail results must match the full computation this closely (prices ~1.2, oscillators 0-100).
PRICE_TOL = 1e-11
OSC_TOL = 1e-8
OSCILLATORS = {"rsi_14", "adx_14", "plus_di_14", "minus_di_14", "stoch_k", "stoch_d"}


def assert_rows_match(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.index) == list(want.index)
    for col in INDICATOR_COLUMNS:
        tol = OSC_TOL if col in OSCILLATORS else PRICE_TOL
        np.testing.assert_allclose(got[col], want[col], rtol=0, atol=tol, err_msg=col)


def incremental(pack: pd.DataFrame, bars: pd.DataFrame) -> pd.DataFrame:
    """update_latest, failing if it fell back to recomputing the whole pack."""

    def forbidden(_bars):
        raise AssertionError("update_latest recomputed the whole pack")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(indicators, "indicator_pack", forbidden)
        return update_latest(pack, bars)


def test_oscillators_stay_in_their_range_on_real_bars(eurusd):
    pack = indicator_pack(eurusd)
    for col in ("rsi_14", "stoch_k", "stoch_d", "adx_14", "plus_di_14", "minus_di_14"):
        values = pack[col].dropna()
        assert len(values) > 4900, col
        assert values.between(0, 100).all(), col


def test_pack_columns_are_wired_to_the_right_indicator(eurusd):
    pack = indicator_pack(eurusd)
    close = eurusd["close"]
    last = pack.iloc[-1]
    assert last["sma_20"] == pytest.approx(close.iloc[-20:].mean(), abs=1e-12)
    assert last["sma_50"] == pytest.approx(close.iloc[-50:].mean(), abs=1e-12)
    assert last["bb_mid"] == pytest.approx(last["sma_20"], abs=1e-12)
    assert last["bb_upper"] - last["bb_mid"] == pytest.approx(2 * close.iloc[-20:].std(ddof=0))
    assert last["macd_hist"] == pytest.approx(last["macd"] - last["macd_signal"], abs=1e-15)
    assert last["ema_20"] != last["ema_50"] != last["ema_200"]
    assert 0 < last["atr_14"] < (eurusd["high"] - eurusd["low"]).iloc[-100:].max()
    assert list(pack.columns) == [*eurusd.columns, *INDICATOR_COLUMNS]


def test_warm_up_rows_are_nan_never_zero(eurusd):
    pack = indicator_pack(eurusd.iloc[:300])
    assert pack["ema_200"].iloc[:199].isna().all() and pack["ema_200"].iloc[199:].notna().all()
    assert pack["adx_14"].iloc[:28].isna().all() and pack["adx_14"].iloc[28:].gt(0).all()
    assert pack["atr_14"].iloc[:14].isna().all() and pack["atr_14"].iloc[14:].gt(0).all()


def test_latest_when_history_is_short_then_missing_indicators_are_none(eurusd):
    values = latest(eurusd.iloc[:120])
    assert values["ema_200"] is None
    assert values["ema_50"] is not None and values["rsi_14"] is not None
    assert values["close"] == eurusd["close"].iloc[119]


def test_latest_equals_the_full_pack_on_the_last_bar(eurusd):
    full = indicator_pack(eurusd).iloc[[-1]]
    values = latest(eurusd)
    assert_rows_match(pd.DataFrame([values], index=full.index), full)


def test_update_latest_after_a_tick_equals_full_recompute(eurusd):
    pack = indicator_pack(eurusd)
    ticked = eurusd.copy()
    ticked.iloc[-1, ticked.columns.get_loc("close")] = 1.2250
    ticked.iloc[-1, ticked.columns.get_loc("low")] = 1.2250
    updated = incremental(pack, ticked)
    assert_rows_match(updated, indicator_pack(ticked))
    assert updated["close"].iloc[-1] == 1.2250


def test_update_latest_after_a_new_bar_finalizes_the_forming_one(eurusd):
    forming = eurusd.iloc[:-1].copy()
    forming.iloc[-1, forming.columns.get_loc("close")] = forming["open"].iloc[-1]
    pack = indicator_pack(forming)
    updated = incremental(pack, eurusd)
    assert_rows_match(updated.iloc[-3:], indicator_pack(eurusd).iloc[-3:])
    assert len(updated) == len(eurusd)
    assert updated["close"].iloc[-2] == eurusd["close"].iloc[-2]


def test_update_latest_on_a_sliding_window_matches_full_on_recent_rows(eurusd):
    pack = indicator_pack(eurusd.iloc[:-1])
    window = eurusd.iloc[1:]
    updated = incremental(pack, window)
    assert updated.index.equals(window.index)
    assert_rows_match(updated.iloc[-5:], indicator_pack(window).iloc[-5:])


def test_update_latest_when_two_bars_arrived_then_full_recompute(eurusd):
    pack = indicator_pack(eurusd.iloc[:-2])
    assert update_latest(pack, eurusd).equals(indicator_pack(eurusd))


def test_tails_are_long_enough_and_a_short_one_would_not_be(eurusd):
    """Guards the tolerance above: a tail of only 2x the period visibly misses the EMA200."""
    full = indicator_pack(eurusd)["ema_200"].iloc[-1]
    short = indicator_pack(eurusd.iloc[-400:])["ema_200"].iloc[-1]
    assert abs(short - full) > 1e-6
    assert {ind.columns[0]: ind.tail for ind in INDICATORS}["ema_200"] > 2000


def test_bars_without_prices_raise_a_companion_error(eurusd):
    with pytest.raises(CompanionError) as err:
        indicator_pack(eurusd.drop(columns=["high"]))
    assert err.value.code == "bad_bars"
