import json
import re

import pandas as pd
import pytest

from agent.domain import CompanionError
from agent.market.analyzer import MIN_BARS, analyze, analyze_many

LABELS = re.compile(r"EMA\d+|\b[SR][123]\b|%[KD]|[+-]DI|EURUSD|\bH[14]\b")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?")
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def numbers_in(data) -> list[float]:
    if isinstance(data, dict):
        return [n for v in data.values() for n in numbers_in(v)]
    if isinstance(data, list | tuple):
        return [n for v in data for n in numbers_in(v)]
    if isinstance(data, bool) or not isinstance(data, int | float):
        return []
    return [float(data)]


def resample_h4(bars: pd.DataFrame) -> pd.DataFrame:
    ohlc = {"open": "first", "high": "max", "low": "min", "close": "last", "tick_volume": "sum"}
    return bars.resample("4h").agg(ohlc).dropna()


def test_rally_in_the_data_reads_as_an_uptrend(eurusd):
    bars = eurusd.iloc[4200:4600]  # ends 2018-01-15 23:00
    close = bars["close"]
    assert close.iloc[-1] > close.iloc[-200] * 1.015  # +1.5% over 200 hours: a rally
    assert close.iloc[-50:].mean() > close.iloc[-100:-50].mean()
    s = analyze(bars, "EURUSD", "H1")
    assert s.trend.direction == "up"
    assert s.trend.ema_20 > s.trend.ema_50 > s.trend.ema_200
    assert s.trend.adx >= 20 and s.trend.ema_50_slope_points > 0


def test_selloff_at_the_end_of_the_data_reads_as_a_downtrend(eurusd):
    bars = eurusd.iloc[-500:]  # 1.246 on 2018-02-05 down to 1.229 on 2018-02-07
    assert bars["close"].iloc[-1] < bars["close"].iloc[-60:].max() - 0.015  # -150 pips
    s = analyze(bars, "EURUSD", "H1")
    assert s.trend.direction == "down"
    assert s.momentum.rsi < 30 and s.momentum.rsi_zone == "oversold"
    assert s.momentum.macd_hist < 0
    assert s.last_close == 1.22904 and s.last_time.isoformat() == "2018-02-07T15:00:00+00:00"


def test_every_number_in_the_facts_is_a_value_of_the_summary(eurusd):
    s = analyze(eurusd.iloc[-500:], "EURUSD", "h1")
    data = s.to_dict()
    values = numbers_in({k: v for k, v in data.items() if k not in ("facts", "summary_text")})
    texts = [data["last_time"], data["levels"]["pivots"]["day"]]
    for fact in s.facts:
        for when in DATE.findall(fact):
            assert any(t.replace("T", " ").startswith(when) for t in texts), (when, fact)
        for token in NUMBER.findall(LABELS.sub("", DATE.sub("", fact))):
            assert any(abs(float(token) - v) < 1e-9 for v in values), (token, fact)
    assert s.summary_text == " ".join(s.facts)
    assert json.loads(json.dumps(data)) == data


def test_facts_show_prices_at_the_symbol_digits(eurusd):
    s = analyze(eurusd.iloc[-500:], "EURUSD", "H1")
    assert "last close 1.22904 at 2018-02-07 15:00 UTC" in s.facts[0]
    assert f"RSI {s.momentum.rsi:.2f}" in s.summary_text
    jpy_like = analyze(eurusd.iloc[-500:] * [100, 100, 100, 100, 1], "EURJPY", "H1", digits=3)
    assert "last close 122.904 at" in jpy_like.facts[0]


def test_levels_bracket_the_close_with_distances_in_points(eurusd):
    s = analyze(eurusd.iloc[-500:], "EURUSD", "H1")
    lv = s.levels
    assert lv.nearest_support < s.last_close < lv.nearest_resistance
    assert lv.support_distance_points == round((s.last_close - lv.nearest_support) * 1e5)
    assert lv.resistance_distance_points == round((lv.nearest_resistance - s.last_close) * 1e5)
    p = lv.pivots
    assert p.s3 < p.s2 < p.s1 < p.p < p.r1 < p.r2 < p.r3


def test_volatility_regime_follows_the_atr_percentile(eurusd):
    s = analyze(eurusd.iloc[-500:], "EURUSD", "H1")
    v = s.volatility
    assert 0 <= v.atr_percentile <= 100
    assert v.regime == ("low" if v.atr_percentile < 25 else "high" if v.atr_percentile > 75
                        else "normal")
    assert v.atr_pct == round(v.atr / s.last_close * 100, 3)


def test_short_history_marks_ema200_unavailable_instead_of_guessing(eurusd):
    s = analyze(eurusd.iloc[:150], "EURUSD", "H1")
    assert s.unavailable == ("ema_200",)
    assert s.trend.ema_200 is None
    assert "EMA200" not in s.facts[1]
    assert any("Unavailable" in f and "EMA200" in f for f in s.facts)


def test_too_few_bars_raise_not_enough_bars(eurusd):
    with pytest.raises(CompanionError) as err:
        analyze(eurusd.iloc[: MIN_BARS - 1], "EURUSD", "H1")
    assert err.value.code == "not_enough_bars"
    assert str(MIN_BARS) in err.value.message


def test_analyze_many_orders_timeframes_and_states_alignment(eurusd):
    frames = {"h4": resample_h4(eurusd), "H1": eurusd.iloc[-500:]}
    many = analyze_many(frames, "EURUSD")
    assert list(many.summaries) == ["H1", "H4"]
    directions = {tf: s.trend.direction for tf, s in many.summaries.items()}
    if len(set(directions.values())) == 1:
        assert many.aligned == directions["H1"]
    else:
        assert many.aligned is None and "mixed" in many.alignment
    for tf, direction in directions.items():
        assert re.search(rf"{direction} on [^;.]*{tf}", many.alignment)
    assert many.to_dict()["summaries"]["H4"]["timeframe"] == "H4"


def test_analyze_many_when_all_agree_then_aligned(eurusd):
    up = eurusd.iloc[4200:4600]
    many = analyze_many({"H1": up, "M30": up}, "EURUSD")  # same bars twice: same verdict
    assert many.aligned == "up"
    assert many.alignment == "Trend alignment: up on all 2 timeframes (M30, H1)."
