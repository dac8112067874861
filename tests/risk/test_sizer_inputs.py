"""What a trader types for sizing: a risk as % or money, a stop as a distance in pips or points.

Invariant (named after the sizer's): a risk given in money never risks more than that money, and
a stop given as a distance lies that far from the entry, on the losing side.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.domain import CompanionError, Side
from agent.risk.sizer import (
    RiskAsk,
    distance_points,
    level_at,
    parse_level,
    parse_risk,
    points_between,
    size_position,
)
from tests.risk.builders import limits, spec


@pytest.mark.parametrize(("text", "ask"), [
    ("1%", RiskAsk(1.0)), ("1", RiskAsk(1.0)), ("0.5 %", RiskAsk(0.5)), (".5%", RiskAsk(0.5)),
    ("50USD", RiskAsk(50.0, "USD")), ("50 usd", RiskAsk(50.0, "USD")),
    ("USD50", RiskAsk(50.0, "USD")), ("$50", RiskAsk(50.0, "USD")),
    ("50$", RiskAsk(50.0, "USD")), ("€20", RiskAsk(20.0, "EUR")),
    ("75.5EUR", RiskAsk(75.5, "EUR")),
])
def test_parse_risk_reads_a_percentage_or_money(text: str, ask: RiskAsk) -> None:
    assert parse_risk(text) == ask


@pytest.mark.parametrize("text", ["", "abc", "0%", "0USD", "-1%", "USD50%", "$50USD", "1e3%",
                                  "50 US", "%"])
def test_parse_risk_refuses_anything_else_with_one_sentence(text: str) -> None:
    with pytest.raises(CompanionError) as err:
        parse_risk(text)
    assert err.value.code == "bad_risk"


@given(st.decimals(min_value="0.01", max_value="100000", places=2),
       st.sampled_from(["USD", "EUR", "JPY"]), st.sampled_from(["{a}{c}", "{c}{a}", "{a} {c}"]))
def test_parse_risk_money_round_trips(amount, currency: str, layout: str) -> None:
    ask = parse_risk(layout.format(a=amount, c=currency))
    assert ask == RiskAsk(float(amount), currency) and ask.is_money


def test_money_risk_in_the_account_currency_is_a_share_of_equity() -> None:
    assert RiskAsk(50.0, "USD").pct_of(10_000.0, "usd") == pytest.approx(0.5)
    assert RiskAsk(1.0).pct_of(10_000.0, "USD") == 1.0


def test_money_risk_in_another_currency_is_refused_not_converted() -> None:
    with pytest.raises(CompanionError) as err:
        RiskAsk(50.0, "EUR").pct_of(10_000.0, "USD")
    assert err.value.code == "risk_currency"


@pytest.mark.parametrize("equity", [0.0, -1.0, math.nan, math.inf])
def test_money_risk_over_a_broken_equity_is_refused(equity: float) -> None:
    with pytest.raises(CompanionError) as err:
        RiskAsk(50.0, "USD").pct_of(equity, "USD")
    assert err.value.code == "invalid_input"


def test_pips_are_ten_points_on_a_five_digit_quote_and_one_on_a_two_digit_one() -> None:
    assert distance_points(20, "pips", spec()) == 200
    assert distance_points(20, "points", spec()) == 20
    assert distance_points(20, "pips", spec("GOOGL", digits=2, point=0.01)) == 20
    assert distance_points(1.5, "pips", spec("USDJPY", digits=3, point=0.001)) == 15


@pytest.mark.parametrize(("value", "unit", "code"), [(20, "lots", "bad_unit"),
                                                      (0, "pips", "bad_distance"),
                                                      (math.nan, "pips", "bad_distance"),
                                                      (-5, "points", "bad_distance")])
def test_a_distance_that_is_not_one_is_refused(value: float, unit: str, code: str) -> None:
    with pytest.raises(CompanionError) as err:
        distance_points(value, unit, spec())
    assert err.value.code == code


@given(st.sampled_from([Side.BUY, Side.SELL]), st.integers(100_000, 200_000),
       st.integers(1, 5_000), st.booleans())
def test_a_level_at_a_distance_is_that_far_on_the_right_side(side: Side, entry_points: int,
                                                             points: int, stop: bool) -> None:
    s = spec()
    entry = entry_points * s.point
    level = level_at(side, entry, points, s, stop=stop)
    assert points_between(entry, level, s.point) == pytest.approx(points, abs=1e-6)
    losing = side.sign * (entry - level) > 0
    assert losing is stop


@given(st.decimals(min_value="5", max_value="500", places=2), st.integers(50, 2_000))
def test_size_for_money_never_risks_more_than_that_money(amount, sl_points: int) -> None:
    s, equity = spec(), 10_000.0
    entry = 1.08010
    sl = level_at(Side.BUY, entry, sl_points, s, stop=True)
    pct = RiskAsk(float(amount), "USD").pct_of(equity, "USD")
    result = size_position(equity=equity, risk_pct=pct, entry=entry, sl=sl, spec=s,
                           limits=limits(max_risk_per_trade_pct=10.0), currency="USD")
    assert result.money_at_risk <= float(amount) + 1e-9
    if result.volume:
        assert "USD" in result.reason and "pips" in result.reason
        assert result.sl == sl and result.digits == 5 and result.currency == "USD"


@pytest.mark.parametrize(("text", "level"), [
    ("1.0750", (1.075, None)), ("20 pips", (20.0, "pips")), ("20pips", (20.0, "pips")),
    ("1 pip", (1.0, "pips")), ("150 pts", (150.0, "points")), ("200 Points", (200.0, "points")),
    ("1e-05", (1e-05, None)), (".5pip", (0.5, "pips")),
])
def test_parse_level_reads_a_price_or_a_distance(text: str, level) -> None:
    assert parse_level(text) == level


@pytest.mark.parametrize("text", ["", "e5", "20 lots", "0", "0 pips", "-1", "nan", "inf", "1e",
                                  "1.2.3", "pips"])
def test_parse_level_refuses_anything_else(text: str) -> None:
    with pytest.raises(CompanionError) as err:
        parse_level(text)
    assert err.value.code == "bad_level"
