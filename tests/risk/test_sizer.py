"""Position sizing: rounds down to the step, never above the caps or the risk asked."""

from __future__ import annotations

import math

import pytest

from agent.domain import CompanionError, Side
from agent.graph.render import render_command
from agent.risk.sizer import CapCode, SizeCode, floor_to_step, size_position
from agent.tools.jsonable import to_jsonable
from tests.risk.builders import limits, spec


def size(**kw):
    args = dict(equity=10_000.0, risk_pct=1.0, entry=1.0801, sl=1.0781, spec=spec(),
                limits=limits())
    return size_position(**{**args, **kw})


def test_size_when_one_percent_and_200_points_then_half_a_lot():
    result = size()
    assert result.volume == 0.5
    assert result.money_at_risk == pytest.approx(100.0)
    assert result.sl_points == pytest.approx(200.0)
    assert result.risk_pct <= 1.0


def test_size_when_exact_multiple_with_float_error_then_not_rounded_below():
    # 30 USD budget / 100 USD per lot = 0.3 lots exactly; 0.3 / 0.01 is 29.999... in floats.
    assert size(equity=3_000.0, risk_pct=1.0, sl=1.0791).volume == 0.3


def test_size_when_asked_above_limit_then_capped_at_limit():
    assert size(risk_pct=5.0).risk_pct <= limits().max_risk_per_trade_pct


def test_size_when_risk_150_percent_then_the_cap_is_stated_to_the_trader():
    result = size(risk_pct=150.0)
    assert result.code is SizeCode.SIZED and result.risk_pct <= 1.0
    assert [c.code for c in result.caps] == [CapCode.RISK_PER_TRADE]
    shown = render_command("size", to_jsonable(result))
    assert result.caps[0].message in shown


def test_size_when_within_every_limit_then_no_cap_stated():
    assert size().caps == ()


def test_size_when_above_lot_caps_then_capped_and_stated():
    big = size(equity=10_000_000.0)
    assert big.volume == limits().max_volume_lots
    assert [c.code for c in big.caps] == [CapCode.VOLUME_CAP]
    symbol_max = size(equity=10_000_000.0, spec=spec(volume_max=2.0))
    assert symbol_max.volume == 2.0
    assert [c.code for c in symbol_max.caps] == [CapCode.SYMBOL_VOLUME_MAX]
    assert symbol_max.caps[0].message in render_command("size", to_jsonable(symbol_max))


def test_size_when_min_lot_exceeds_risk_then_zero_with_reason():
    result = size(equity=100.0, sl=1.0301)
    assert result.volume == 0.0 and result.money_at_risk == 0.0
    assert result.code is SizeCode.MIN_LOT_TOO_RISKY and result.reason


# EURUSD bid 1.0799, ask 1.0811: a 12-point spread; the spec's stops level is 10 points.
BID, ASK = 1.0799, 1.0811


@pytest.mark.parametrize(("side", "entry", "close", "sl"), [
    (Side.BUY, ASK, BID, BID),          # the stop at the bid: a buy closes there at once
    (Side.BUY, ASK, BID, 1.0805),       # between bid and ask
    (Side.SELL, BID, ASK, ASK),         # the stop at the ask for a sell
    (Side.SELL, BID, ASK, 1.0805),
])
def test_size_when_stop_inside_the_spread_then_refused_with_reason(side, entry, close, sl):
    result = size(side=side, entry=entry, close=close, sl=sl)
    assert result.volume == 0.0 and result.money_at_risk == 0.0
    assert result.code is SizeCode.STOP_INSIDE_SPREAD
    assert render_command("size", to_jsonable(result)) == f"No size fits: {result.reason}"


@pytest.mark.parametrize(("side", "entry", "close", "sl"), [
    (Side.BUY, ASK, BID, BID - 0.00005),   # 5 points below the bid; 10 needed
    (Side.SELL, BID, ASK, ASK + 0.00009),
])
def test_size_when_stop_inside_the_stops_level_then_refused(side, entry, close, sl):
    result = size(side=side, entry=entry, close=close, sl=sl)
    assert result.volume == 0.0 and result.code is SizeCode.STOP_INSIDE_STOPS_LEVEL


def test_size_when_stop_exactly_at_the_stops_level_then_sized():
    result = size(side=Side.BUY, entry=ASK, close=BID, sl=BID - 0.0001)
    assert result.volume > 0 and result.code is SizeCode.SIZED


def test_size_when_stop_on_the_wrong_side_then_refused():
    result = size(side=Side.BUY, entry=ASK, close=BID, sl=ASK + 0.0020)
    assert result.volume == 0.0 and result.code is SizeCode.STOP_WRONG_SIDE


def test_size_when_refused_and_risk_capped_then_both_stated():
    result = size(risk_pct=150.0, side=Side.BUY, entry=ASK, close=BID, sl=BID)
    assert result.code is SizeCode.STOP_INSIDE_SPREAD
    assert [c.code for c in result.caps] == [CapCode.RISK_PER_TRADE]
    assert result.caps[0].message in render_command("size", to_jsonable(result))


@pytest.mark.parametrize("bad", [dict(equity=math.nan), dict(risk_pct=-1.0), dict(sl=math.inf),
                                 dict(entry=0.0), dict(spec=spec(tick_value=math.nan)),
                                 dict(close=-1.0)])
def test_size_when_input_invalid_then_companion_error(bad):
    with pytest.raises(CompanionError) as error:
        size(**bad)
    assert error.value.code == "invalid_input"


def test_size_when_sl_equals_entry_then_companion_error():
    with pytest.raises(CompanionError) as error:
        size(sl=1.0801)
    assert error.value.code == "invalid_input"


def test_floor_to_step_is_exact_on_multiples():
    assert floor_to_step(0.3, 0.01) == 0.3
    assert floor_to_step(0.299, 0.01) == 0.29
    assert floor_to_step(7.0, 0.5) == 7.0


def test_size_when_floor_still_risks_a_hair_too_much_then_one_step_less():
    # 1,556.10 budget / 57 USD a lot floors to 27.30 lots, which by float arithmetic risks a
    # hair above 2.52%: the sizer steps down, as the engine's own comparison would refuse it.
    result = size(equity=61_750.0, risk_pct=2.52, entry=1.0801, sl=1.0801 - 0.00057,
                  limits=limits(max_risk_per_trade_pct=5.0, max_volume_lots=100.0))
    assert result.volume == 27.29 and result.risk_pct <= 2.52
