"""Numbers read the same in every channel: prices to the digits, money to the cent with its
currency and sign, percentages rounded, pips beside points, a gain never shown as a loss."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent import wording as w

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


def test_a_price_keeps_the_symbols_digits() -> None:
    assert w.price(1.1, 5) == "1.10000"
    assert w.price(150.5, 3) == "150.500"
    assert w.price(1.105, None) == "1.105"
    assert w.price(None, 5) == "-"


@given(finite)
def test_money_reads_back_as_the_amount_to_the_cent(x: float) -> None:
    text = w.money(x, "USD")
    assert text.endswith(" USD") and not text.startswith("-0.00")
    assert float(text.removesuffix(" USD").replace(",", "")) == round(x, 2) + 0.0


@given(finite)
def test_signed_money_shows_a_gain_with_plus_and_a_loss_with_minus(x: float) -> None:
    text = w.money(x, "EUR", signed=True)
    cents = round(x, 2)
    assert text[0] == ("-" if cents < 0 else "+")
    assert re.fullmatch(r"[+-][\d,]+\.\d\d EUR", text)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.integers(0, 4))
def test_a_percentage_is_rounded_to_its_places(x: float, places: int) -> None:
    text = w.pct(x, places)
    assert text.endswith("%") and text != f"-{0:.{places}f}%"  # never "-0.00%"
    decimals = text.removesuffix("%").partition(".")[2]
    assert len(decimals) == places
    assert math.isclose(float(text.removesuffix("%")), round(x, places), abs_tol=10 ** -places)


def test_the_issue_figures_read_rounded_and_a_profit_reads_as_a_gain() -> None:
    rows = dict(w.figure_rows({"margin_level_after": 1794.8809993897405,
                               "daily_loss_pct": -0.4829999999999927, "digits": 5,
                               "currency": "USD", "spread_points": 12.0,
                               "money_at_risk": 50.0, "risk_pct": 0.5, "drawdown_pct": -1.0}))
    assert rows["Margin level after"] == "1,795%"
    assert rows["Day so far"] == "up 0.48% today"
    assert rows["Spread"] == "12 points (1.2 pips)"
    assert rows["Money at risk"] == "50.00 USD"
    assert rows["Risk of equity"] == "0.50%"
    assert rows["Drawdown from peak"] == "0.00%"


@given(st.floats(min_value=-50, max_value=50, allow_nan=False))
def test_day_result_says_up_for_a_gain_and_down_for_a_loss(loss_pct: float) -> None:
    text = w.day_result(loss_pct)
    if round(loss_pct, 2) > 0:
        assert text.startswith("down ")
    elif round(loss_pct, 2) < 0:
        assert text.startswith("up ")
    else:
        assert text == "flat today"
    assert "-" not in text


@given(st.integers(0, 100_000), st.sampled_from([2, 3, 4, 5]))
def test_pips_beside_points_are_the_same_distance(points: int, digits: int) -> None:
    text = w.distance(points, digits)
    assert text.startswith(f"{points:,} points")
    if digits in (3, 5):
        assert text.endswith(f"({points / 10:,.1f} pips)")
        assert w.pips(points, digits) * w.points_per_pip(digits) == points
    else:
        assert "pips" not in text


def test_figure_rows_leave_out_what_does_not_apply() -> None:
    assert w.figure_rows({"digits": 5, "currency": "USD", "reward_risk": None}) == []
    assert w.margin_level(None) == "-" and w.margin_level(math.inf) == "-"


def test_an_alert_reads_as_a_sentence() -> None:
    alert = {"id": "alr_1", "rule": "EURUSD bid crosses above 1.112", "mode": "once",
             "status": "active", "fire_count": 0, "last_fired_at": None}
    assert w.alert_sentence(alert) == ("Alert alr_1 tells you once when EURUSD bid crosses "
                                       "above 1.112; it has not fired yet.")
    fired = {**alert, "mode": "recurring", "fire_count": 2,
             "last_fired_at": "2026-12-01T14:30:05+00:00"}
    assert w.alert_sentence(fired).endswith("every time when EURUSD bid crosses above 1.112; "
                                            "it fired twice, last at 2026-12-01 14:30 UTC.")
    assert "cancelled" in w.alert_sentence({**alert, "status": "cancelled"})
    assert w.alerts_text([]).startswith("No active alerts")
    assert "{" not in w.alerts_text([alert, fired])


def test_a_close_all_tickets_symbol_reads_all_symbols() -> None:
    assert w.symbol("*") == "all symbols"
    assert w.symbol("EURUSD") == "EURUSD" and w.symbol(None) == "-"


@pytest.mark.parametrize("points", [math.inf, -math.inf, math.nan])
def test_a_distance_that_is_no_number_still_reads(points: float) -> None:
    assert w.distance(points, 5).endswith("pips)")
