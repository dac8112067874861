"""Alert rules: compiling, reading back, streaming indicators, bulk evaluation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from agent.domain import CompanionError
from agent.market.alerts import Kind, RuleArrays, Streaming, compile_rule, parse_condition
from agent.market.indicators import indicator_pack


def arrays(*rules, cooldown=0.0, once=False, reference=None):
    n = len(rules)
    return RuleArrays(list(rules), cooldown_s=[cooldown] * n, once=[once] * n,
                      last_fired=[None] * n, reference=[reference] * n)


def values_for(book: RuleArrays, **by_feature: float) -> np.ndarray:
    out = np.full(len(book.features), np.nan)
    for key, value in by_feature.items():
        out[book.features[key.replace("__", ":")]] = value
    return out


@pytest.mark.parametrize(("text", "described"), [
    ("above 1.12", "EURUSD bid crosses above 1.12"),
    ("below 1.0950", "EURUSD bid crosses below 1.095"),
    ("rsi<30", "EURUSD RSI(14) on H1 close < 30"),
    ("rsi7 > 70 h4", "EURUSD RSI(7) on H4 close > 70"),
    ("ema50>1.09 D1", "EURUSD EMA(50) on D1 close > 1.09"),
    ("move>0.5% 24 H1", "EURUSD |move| over 24 H1 bars > 0.5%"),
    ("down>1% 5 D1", "EURUSD move over 5 D1 bars < -1%"),
    ("spread>25", "EURUSD spread > 25 points"),
    ("pl<-50 12345", "position #12345 P/L < -50"),
])
def test_condition_text_when_compiled_then_read_back_as_trader_wrote_it(text, described):
    rule = parse_condition("EURUSD", text)
    assert rule.describe() == described
    assert compile_rule(**rule.to_dict()) == rule


@pytest.mark.parametrize("text", ["", "above", "rsi<<30", "macd>1", "rsi<30 H1 extra",
                                  "spread>-5", "rsi1<30", "up>1% 5000"])
def test_malformed_condition_when_parsed_then_bad_alert(text):
    with pytest.raises(CompanionError) as info:
        parse_condition("EURUSD", text)
    assert info.value.code in ("bad_alert", "unknown_timeframe")


def test_streaming_indicators_when_fed_bar_by_bar_then_equal_the_indicator_pack():
    rng = np.random.default_rng(7)
    close = 1.1 + np.cumsum(rng.normal(0, 1e-3, 400))
    high, low = close + rng.uniform(0, 2e-3, 400), close - rng.uniform(0, 2e-3, 400)
    frame = pd.DataFrame({"open": close, "high": high, "low": low, "close": close},
                         index=pd.date_range("2024-01-01", periods=400, freq="h", tz="UTC"))
    pack = indicator_pack(frame)
    streams = {"rsi_14": Streaming("rsi", 14), "ema_50": Streaming("ema", 50),
               "sma_20": Streaming("sma", 20), "atr_14": Streaming("atr", 14)}
    seen = {k: [s.push(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)]
            for k, s in streams.items()}
    for column, values in seen.items():
        np.testing.assert_allclose(values, pack[column].to_numpy(), rtol=1e-9, atol=1e-12)
    move = Streaming("move", 24)
    last = [move.push(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)][-1]
    assert last == pytest.approx(100 * (close[-1] / close[-25] - 1))


def test_price_rule_when_bid_crosses_level_then_fires_once_not_while_it_stays_beyond():
    rule = compile_rule(kind="price", symbol="EURUSD", op=">", threshold=1.12)
    book = arrays(rule)
    fired = [len(book.evaluate(values_for(book, EURUSD__bid=bid), t))
             for t, bid in enumerate([1.125, 1.118, 1.121, 1.123, 1.119, 1.120])]
    assert fired == [0, 0, 1, 0, 0, 1]  # first look arms; touching the level counts


def test_price_rule_armed_with_reference_when_first_look_beyond_then_fires():
    book = arrays(compile_rule(kind="price", symbol="EURUSD", op="<", threshold=1.11),
                  reference=1.115)
    assert [f.value for f in book.evaluate(values_for(book, EURUSD__bid=1.109), 0)] == [1.109]


def test_indicator_rule_when_condition_true_at_first_look_then_fires_then_rearms():
    book = arrays(parse_condition("EURUSD", "rsi<30"))
    seq = [25, 28, 35, 29, math.nan, 31]
    fired = [len(book.evaluate(values_for(book, EURUSD__H1__rsi14=v), t))
             for t, v in enumerate(seq)]
    assert fired == [1, 0, 0, 1, 0, 0]


def test_recurring_rule_within_cooldown_then_quiet_one_shot_then_retired():
    rule = parse_condition("EURUSD", "spread>20")
    recurring, once = arrays(rule, cooldown=60), arrays(rule, once=True)
    for book, expected in ((recurring, [1, 0, 0, 0, 1]), (once, [1, 0, 0, 0, 0])):
        got = [len(book.evaluate(values_for(book, EURUSD__spread=s), t))
               for t, s in ((0, 30), (10, 10), (20, 30), (61, 10), (70, 30))]
        assert got == expected


def test_many_rules_on_one_feature_then_one_slot_each_fires_on_its_own_threshold():
    rules = [compile_rule(kind="indicator", symbol="EURUSD", op="<", threshold=th,
                          indicator="rsi") for th in (20, 30, 40)]
    book = arrays(*rules)
    assert len(book.features) == 1 and rules[0].kind is Kind.INDICATOR
    fired = book.evaluate(values_for(book, EURUSD__H1__rsi14=25), 0)
    assert [rules[f.index].threshold for f in fired] == [30, 40]
