"""Trailing stops (agent.risk.trailing), named after the invariant: the stop never moves
against the trade, never crosses the price, and keeps the stops level behind the price."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.domain import Side
from agent.risk.trailing import next_trail_stop

POINT, DIGITS = 0.00001, 5


def trail(side, price, sl, distance, stops_level=10, **kw):
    return next_trail_stop(side, price, sl, distance, point=POINT, stops_level=stops_level,
                           digits=DIGITS, **kw)


def test_buy_in_profit_then_stop_follows_the_bid_at_the_distance():
    assert trail(Side.BUY, 1.10500, 1.09800, 0.00200) == 1.10300


def test_sell_in_profit_then_stop_follows_the_ask_at_the_distance():
    assert trail(Side.SELL, 1.09500, 1.10200, 0.00200) == 1.09700


def test_when_the_new_stop_would_be_worse_then_it_stays():
    assert trail(Side.BUY, 1.10000, 1.09900, 0.00200) is None  # 1.09800 < 1.09900
    assert trail(Side.SELL, 1.10000, 1.10100, 0.00200) is None


def test_when_the_move_is_under_the_minimum_then_it_stays():
    assert trail(Side.BUY, 1.10300, 1.10100, 0.00200) is None  # the same stop
    assert trail(Side.BUY, 1.10305, 1.10100, 0.00200, min_move_points=10) is None
    assert trail(Side.BUY, 1.10310, 1.10100, 0.00200, min_move_points=10) == 1.10110


def test_position_without_a_stop_then_gets_one():
    assert trail(Side.BUY, 1.10000, None, 0.00150) == 1.09850


def test_distance_inside_the_stops_level_then_widened_to_it():
    assert trail(Side.BUY, 1.10000, None, 0.00005, stops_level=30) == 1.09970


def test_stop_rounded_away_from_the_price():
    assert trail(Side.BUY, 1.100004, None, 0.001) == 1.09900
    assert trail(Side.SELL, 1.100004, None, 0.001) == 1.10101


@pytest.mark.parametrize("price, distance, point", [
    (math.nan, 0.001, POINT), (1.1, math.inf, POINT), (1.1, 0.0, POINT), (-1.0, 0.001, POINT),
    (1.1, 0.001, 0.0)])
def test_unusable_numbers_then_no_move(price, distance, point):
    assert next_trail_stop(Side.BUY, price, None, distance, point=point, stops_level=10,
                           digits=5) is None


def test_negative_stops_level_or_a_stop_below_zero_then_no_move():
    assert trail(Side.BUY, 1.1, None, 0.001, stops_level=-1) is None
    assert trail(Side.BUY, 0.0005, None, 0.001) is None


@given(side=st.sampled_from(list(Side)), price=st.integers(50_000, 200_000),
       sl=st.none() | st.integers(-5_000, 5_000), distance=st.integers(1, 5_000),
       stops_level=st.integers(0, 400), min_move=st.integers(1, 50))
def test_invariant_the_stop_never_moves_against_the_trade_nor_crosses_the_price(
        side, price, sl, distance, stops_level, min_move):
    """Prices in points; `sl` in points from the price (positive: behind it, on the losing
    side; negative: a stop already locked past the price is impossible at a broker but must
    still never be loosened)."""
    bid = price * POINT
    current = None if sl is None else round(bid - side.sign * sl * POINT, DIGITS)
    stop = trail(side, bid, current, distance * POINT, stops_level, min_move_points=min_move)
    if stop is None:
        return
    behind = side.sign * (bid - stop) / POINT
    assert behind > 0  # never crosses the price
    assert behind >= max(distance, stops_level) - 1e-6  # the distance and the stops level
    assert round(stop, DIGITS) == stop
    if current is not None:
        assert side.sign * (stop - current) / POINT >= min_move - 1e-6  # only toward profit


@given(side=st.sampled_from(list(Side)), start=st.integers(90_000, 110_000),
       path=st.lists(st.integers(-300, 300), min_size=1, max_size=40),
       distance=st.integers(10, 400))
def test_invariant_along_any_price_path_the_stop_only_ratchets(side, start, path, distance):
    """A trailing job applies the rule at every price of a path: the stops it sets form a
    monotone sequence in the trade's favour."""
    price, stop, stops = start, None, []
    for step in path:
        price += step
        new = trail(side, price * POINT, stop, distance * POINT)
        if new is not None:
            stop = new
            stops.append(new)
    assert all(side.sign * (b - a) > 0 for a, b in itertools.pairwise(stops))
