"""The risk rules of a modify (new SL/TP of an open position) and of a cancel (of a pending
order), one case per branch, and a property named after the invariant: a stop is never moved
to the wrong side of the price, and never away from it past the risk limit or while trading
is halted or reducing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.domain import IntentKind, Order, OrderIntent, OrderType, Side, TradingState
from agent.risk.checks import RiskCode
from agent.risk.engine import CANCEL_RULES, MODIFY_RULES, evaluate
from agent.risk.snapshot import RiskState
from tests.risk.builders import NOW, limits, position, quote, snapshot

# A buy of 0.10 EURUSD opened at 1.08000, stop 1.07800 (200 points, 20 USD), target 1.08500;
# the market is 1.08000 / 1.08010.
HELD = position(ticket=7, price_open=1.08, sl=1.078, tp=1.085)
SHORT = position(ticket=8, side=Side.SELL, price_open=1.08, sl=1.082, tp=1.075)
PENDING = Order(ticket=9, symbol="EURUSD", type=OrderType.BUY_LIMIT, volume=0.01,
                price_open=1.075, sl=1.07, tp=None, price_current=1.0801, time_setup=NOW,
                state="placed")
HALTED = RiskState(TradingState.HALTED, manual=True, reason="news")
REDUCING = RiskState(TradingState.REDUCING, reason="daily loss")


def modify(pos=HELD, **levels) -> OrderIntent:
    sl = levels.get("sl", pos.sl)
    tp = levels.get("tp", pos.tp)
    return OrderIntent(pos.symbol, pos.side, pos.volume, sl=sl, tp=tp, kind=IntentKind.MODIFY,
                       position_ticket=pos.ticket)


def cancel(order=PENDING, **kw) -> OrderIntent:
    return OrderIntent(order.symbol, order.side, order.volume, sl=order.sl, tp=order.tp,
                       price=order.price_open, kind=IntentKind.CANCEL,
                       order_ticket=order.ticket, **kw)


def decide(intent, state=RiskState(), snap=None, **limit_kw):
    snap = snap or snapshot(positions=(HELD, SHORT), orders=(PENDING,))
    return evaluate(intent, snap, limits(**limit_kw), state, NOW)


def codes(decision) -> set[RiskCode]:
    return set(decision.denial_codes)


def verdict(decision, code: RiskCode):
    return next(v for v in decision.verdicts if v.code is code)


# -- modify ------------------------------------------------------------------------------------

def test_modify_when_stop_moves_closer_then_approved_with_before_and_after():
    decision = decide(modify(sl=1.079))
    assert decision.approved, decision.explain()
    assert [v.code for v in decision.verdicts[3:]] == [
        RiskCode.TRADING_STATE, RiskCode.POSITION_TO_MODIFY, RiskCode.MODIFY_CHANGES,
        RiskCode.STOP_LOSS_REQUIRED, RiskCode.STOP_LOSS_PLACEMENT,
        RiskCode.TAKE_PROFIT_PLACEMENT, RiskCode.RISK_PER_TRADE]
    assert len(MODIFY_RULES) == 7
    f = decision.figures
    assert (f.sl_before, f.tp_before, f.price_bound, f.order_type) == (1.078, 1.085, None, None)
    assert f.money_at_risk == pytest.approx(10.0) and f.risk_pct == pytest.approx(0.1)
    assert not verdict(decision, RiskCode.RISK_PER_TRADE).details["widens"]


def test_modify_when_stop_locks_in_profit_then_no_money_at_risk():
    held = replace(HELD, price_open=1.07)
    decision = decide(modify(held, sl=1.075), snap=snapshot(positions=(held,)))
    assert decision.approved and decision.figures.money_at_risk == 0.0


def test_modify_when_only_take_profit_changes_then_approved():
    assert decide(modify(tp=1.09)).approved


def test_modify_when_nothing_changes_then_denied():
    assert codes(decide(modify())) == {RiskCode.MODIFY_CHANGES}


def test_modify_when_levels_differ_below_half_a_point_then_nothing_changes():
    assert codes(decide(modify(sl=1.078000004))) == {RiskCode.MODIFY_CHANGES}


def test_modify_when_position_unknown_then_denied_by_every_rule_that_needs_it():
    ghost = replace(HELD, ticket=99)
    assert codes(decide(modify(ghost, sl=1.079))) == {RiskCode.POSITION_TO_MODIFY,
                                                     RiskCode.MODIFY_CHANGES}


def test_modify_when_side_or_symbol_does_not_match_then_denied():
    wrong = replace(modify(sl=1.079), side=Side.SELL)
    assert RiskCode.POSITION_TO_MODIFY in codes(decide(wrong))


@pytest.mark.parametrize("sl", [1.0801, 1.08, 1.0805])
def test_modify_buy_when_stop_at_or_above_the_bid_then_denied(sl):
    assert RiskCode.STOP_LOSS_PLACEMENT in codes(decide(modify(sl=sl)))


def test_modify_when_stop_inside_the_stops_level_then_denied():
    decision = decide(modify(sl=1.07995))  # 5 points under the bid, the broker needs 10
    assert codes(decision) == {RiskCode.STOP_LOSS_PLACEMENT}
    assert verdict(decision, RiskCode.STOP_LOSS_PLACEMENT).details["distance_points"] == \
        pytest.approx(5)


def test_modify_sell_when_stop_below_the_ask_then_denied():
    assert RiskCode.STOP_LOSS_PLACEMENT in codes(decide(modify(SHORT, sl=1.0800)))


def test_modify_sell_when_stop_moves_closer_then_approved():
    assert decide(modify(SHORT, sl=1.081)).approved


@pytest.mark.parametrize("tp, code", [(1.0799, RiskCode.TAKE_PROFIT_PLACEMENT),
                                      (1.08005, RiskCode.TAKE_PROFIT_PLACEMENT)])
def test_modify_buy_when_target_below_or_too_near_the_bid_then_denied(tp, code):
    assert code in codes(decide(modify(tp=tp)))


def test_modify_when_target_removed_then_approved():
    decision = decide(modify(tp=None))
    assert decision.approved and verdict(decision, RiskCode.TAKE_PROFIT_PLACEMENT).passed


def test_modify_when_stop_removed_and_stops_required_then_denied():
    assert RiskCode.STOP_LOSS_REQUIRED in codes(decide(modify(sl=None)))


def test_modify_when_stop_removed_and_allowed_then_risk_unmeasured_but_approved():
    decision = decide(modify(sl=None), require_stop_loss=False)
    assert decision.approved
    assert verdict(decision, RiskCode.RISK_PER_TRADE).details == {"widens": True,
                                                                  "measured": False}


def test_modify_when_stop_widened_within_the_limit_then_approved():
    decision = decide(modify(sl=1.077))  # 300 points: 30 USD, 0.30% of equity
    assert decision.approved
    assert verdict(decision, RiskCode.RISK_PER_TRADE).details["widens"]


def test_modify_when_stop_widened_past_the_limit_then_denied():
    decision = decide(modify(sl=1.06))  # 2,000 points: 200 USD, 2% of equity
    assert codes(decision) == {RiskCode.RISK_PER_TRADE}
    assert verdict(decision, RiskCode.RISK_PER_TRADE).details["risk_pct"] == pytest.approx(2.0)


def test_modify_when_position_had_no_stop_then_any_stop_takes_risk_off():
    bare = replace(HELD, sl=None)
    decision = decide(modify(bare, sl=1.06), HALTED, snap=snapshot(positions=(bare,)))
    assert decision.approved, decision.explain()


@pytest.mark.parametrize("state", [HALTED, REDUCING])
def test_modify_when_halted_or_reducing_then_only_a_closer_stop_passes(state):
    assert decide(modify(sl=1.079), state).approved
    assert decide(modify(tp=1.09), state).approved
    widened = decide(modify(sl=1.077), state)
    assert codes(widened) == {RiskCode.TRADING_STATE}
    assert "closer to the price" in verdict(widened, RiskCode.TRADING_STATE).message


def test_modify_when_the_intent_names_no_position_then_invalid():
    intent = replace(modify(sl=1.079), position_ticket=None)
    assert codes(decide(intent)) == {RiskCode.INPUT_VALID}


@pytest.mark.parametrize("sl", [float("nan"), -1.0, 0.0, float("inf")])
def test_modify_when_stop_not_a_positive_number_then_invalid(sl):
    assert codes(decide(modify(sl=sl))) == {RiskCode.INPUT_VALID}


# -- cancel ------------------------------------------------------------------------------------

def test_cancel_when_order_pending_then_approved_naming_its_type():
    decision = decide(cancel())
    assert decision.approved
    assert [v.code for v in decision.verdicts[3:]] == [RiskCode.ORDER_TO_CANCEL]
    assert len(CANCEL_RULES) == 1
    assert decision.figures.order_type == "buy_limit" and decision.figures.price_bound is None
    assert "BUY LIMIT" in decision.verdicts[-1].message


@pytest.mark.parametrize("state", [HALTED, REDUCING])
def test_cancel_when_halted_or_reducing_then_still_approved(state):
    assert decide(cancel(), state).approved


def test_cancel_when_order_not_pending_then_denied():
    assert codes(decide(cancel(replace(PENDING, ticket=10)))) == {RiskCode.ORDER_TO_CANCEL}


def test_cancel_when_symbol_differs_then_denied():
    other = replace(PENDING, symbol="GBPUSD")
    decision = decide(cancel(), snap=snapshot(orders=(other,)))
    assert codes(decision) == {RiskCode.ORDER_TO_CANCEL}
    assert "does not match" in decision.explain()[0]


def test_cancel_when_intent_names_no_order_then_invalid():
    assert codes(decide(replace(cancel(), order_ticket=None))) == {RiskCode.INPUT_VALID}


def test_decision_dict_names_the_order_of_a_cancel_only():
    assert decide(cancel()).to_dict()["intent"]["order_ticket"] == 9
    assert "order_ticket" not in decide(modify(sl=1.079)).to_dict()["intent"]


# -- figures of an open order: what it becomes at the broker -----------------------------------

@pytest.mark.parametrize("side, price, expected", [
    (Side.BUY, None, "buy"), (Side.SELL, None, "sell"),
    (Side.BUY, 1.075, "buy_limit"), (Side.BUY, 1.085, "buy_stop"),
    (Side.SELL, 1.085, "sell_limit"), (Side.SELL, 1.075, "sell_stop"),
])
def test_open_order_figures_name_the_order_type(side, price, expected):
    sl = 1.07 if side is Side.BUY else 1.09
    intent = OrderIntent("EURUSD", side, 0.01, sl=sl, price=price)
    assert decide(intent).figures.order_type == expected


# -- the invariant, over many stops ------------------------------------------------------------

@given(side=st.sampled_from(list(Side)), old=st.none() | st.integers(-400, 600),
       new=st.none() | st.integers(-400, 3000), state=st.sampled_from(list(TradingState)),
       bid=st.integers(-300, 300))
def test_invariant_a_stop_never_moves_to_the_wrong_side_nor_away_past_the_limits(
        side, old, new, state, bid):
    """Stops are drawn in points from the open price (positive: on the losing side); the
    market moves by `bid` points. An approved modify keeps the new stop beyond the stops level
    on the losing side of the closing price, and a stop that moves away from the price is
    approved only when ACTIVE and within the risk-per-trade limit."""
    point, open_price, volume = 0.00001, 1.08, 0.10
    market = quote(bid=round(open_price + bid * point, 5),
                   ask=round(open_price + (bid + 10) * point, 5))
    sign = side.sign

    def level(points):
        return None if points is None else round(open_price - sign * points * point, 5)
    pos = position(ticket=5, side=side, price_open=open_price, sl=level(old), tp=None)
    intent = OrderIntent("EURUSD", side, volume, sl=level(new), tp=None,
                         kind=IntentKind.MODIFY, position_ticket=5)
    lim = limits(require_stop_loss=False)
    decision = evaluate(intent, snapshot(quote=market, positions=(pos,)), lim,
                        RiskState(state), NOW + timedelta(0))
    if not decision.approved:
        return
    closing = market.bid if side is Side.BUY else market.ask
    if new is not None:
        assert sign * (closing - intent.sl) / point >= 10 - 1e-6  # the stops level
    widens = old is not None and (new is None or new > old)
    if widens:
        assert state is TradingState.ACTIVE
        if new is not None:
            assert max(new, 0) * volume * 1.0 / 10_000 * 100 <= lim.max_risk_per_trade_pct + 1e-9
