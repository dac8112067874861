"""Position sizing: rounds down to the step, never above the caps or the risk asked."""

from __future__ import annotations

import math

import pytest

from agent.domain import CompanionError
from agent.risk.sizer import floor_to_step, size_position
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


def test_size_when_above_lot_caps_then_capped():
    big = size(equity=10_000_000.0)
    assert big.volume == limits().max_volume_lots
    assert size(equity=10_000_000.0, spec=spec(volume_max=2.0)).volume == 2.0


def test_size_when_min_lot_exceeds_risk_then_zero_with_reason():
    result = size(equity=100.0, sl=1.0301)
    assert result.volume == 0.0 and result.money_at_risk == 0.0
    assert result.reason


@pytest.mark.parametrize("bad", [dict(equity=math.nan), dict(risk_pct=-1.0), dict(sl=math.inf),
                                 dict(entry=0.0), dict(spec=spec(tick_value=math.nan))])
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
