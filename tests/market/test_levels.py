from datetime import date

import pandas as pd
import pytest

from agent.market.indicators import latest
from agent.market.levels import (
    floor_pivots,
    previous_day_pivots,
    support_resistance,
    swing_points,
)


def test_pivots_are_ordered_s3_to_r3(eurusd):
    p = previous_day_pivots(eurusd)
    assert p.s3 < p.s2 < p.s1 < p.p < p.r1 < p.r2 < p.r3


def test_pivots_come_from_the_previous_completed_day(eurusd):
    p = previous_day_pivots(eurusd)  # last bar 2018-02-07 15:00: today is still running
    day = eurusd.loc["2018-02-06"]
    assert p.day == date(2018, 2, 6)
    expected = (day["high"].max() + day["low"].min() + day["close"].iloc[-1]) / 3
    assert p.p == pytest.approx(expected, abs=1e-12)
    assert p.r1 == pytest.approx(2 * expected - day["low"].min(), abs=1e-12)


def test_monday_pivots_come_from_friday_not_from_sunday_bars(eurusd):
    monday_morning = eurusd.loc[:"2017-04-24 05:00"]
    assert (monday_morning.index.day_of_week == 6).any()  # the data has Sunday evening bars
    p = previous_day_pivots(monday_morning)
    friday = eurusd.loc["2017-04-21"]
    assert p.day == date(2017, 4, 21)
    assert p.p == pytest.approx(
        (friday["high"].max() + friday["low"].min() + friday["close"].iloc[-1]) / 3)


def test_pivots_when_only_one_day_of_bars_then_none(eurusd):
    assert previous_day_pivots(eurusd.loc["2017-04-20"]) is None


def test_floor_pivot_formulas_on_round_numbers():
    p = floor_pivots(high=1.2, low=1.0, close=1.1, day=date(2024, 1, 2))
    assert (p.p, p.r1, p.s1) == pytest.approx((1.1, 1.2, 1.0))
    assert (p.r2, p.s2, p.r3, p.s3) == pytest.approx((1.3, 0.9, 1.4, 0.8))


def test_swing_points_are_local_extremes(eurusd):
    bars = eurusd.iloc[-300:]
    points = swing_points(bars, strength=3)
    assert len(points) > 10
    for t, price in points.items():
        i = bars.index.get_loc(t)
        around = bars.iloc[i - 3 : i + 4]
        assert price in (around["high"].max(), around["low"].min())
    assert points.index.max() <= bars.index[-4]  # the last 3 bars cannot be confirmed


def test_support_is_below_and_resistance_above_the_close(eurusd):
    atr = latest(eurusd)["atr_14"]
    sr = support_resistance(eurusd, atr)
    close = eurusd["close"].iloc[-1]
    assert sr.price == close
    assert sr.supports and sr.resistances
    assert all(lv.price < close for lv in sr.supports)
    assert all(lv.price > close for lv in sr.resistances)
    prices = [lv.price for lv in sr.supports]
    assert prices == sorted(prices, reverse=True)
    assert sr.nearest_support == sr.supports[0]


def test_swing_levels_closer_than_the_merge_distance_become_one(eurusd):
    atr = latest(eurusd)["atr_14"]
    merged = support_resistance(eurusd, atr, merge_atr=0.5)
    apart = support_resistance(eurusd, atr, merge_atr=0.0)
    all_merged = merged.supports + merged.resistances
    assert len(all_merged) < len(apart.supports + apart.resistances)
    assert max(lv.touches for lv in all_merged) > 1
    assert sum(lv.touches for lv in all_merged) <= len(swing_points(eurusd.iloc[-300:]))


def test_flat_bars_have_no_swing_levels():
    index = pd.date_range("2024-01-01", periods=50, freq="h", tz="UTC")
    flat = pd.DataFrame({"open": 1.1, "high": 1.1, "low": 1.1, "close": 1.1}, index=index)
    sr = support_resistance(flat, 0.0)
    assert sr.nearest_support is None and sr.nearest_resistance is None
