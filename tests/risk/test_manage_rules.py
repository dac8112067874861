"""The risk rules of trade management beyond modify and cancel (issue #14 item 2): a partial
close's volume, a pending order's new price and stops, a trailing-stop rule, and a close-all
decided close by close into one ticket; and the figures a ticket shows (P/L now, P/L at the
stop, digits, currency)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.domain import IntentKind, Order, OrderIntent, OrderType, Side, TradingState
from agent.risk.checks import RiskCode
from agent.risk.engine import combine_closes, evaluate
from agent.risk.snapshot import RiskState
from agent.risk.tickets import ExactOrder, TicketBook
from tests.risk.builders import NOW, close, limits, position, quote, snapshot, spec

# A buy of 1.00 EURUSD opened at 1.07900 (+100.00 USD now at the 1.08000 bid), stop 1.07700;
# a sell of 0.30 opened at 1.08100 (+27.00 USD at the 1.08010 ask).
LONG = position(ticket=7, volume=1.0, price_open=1.079, sl=1.077, profit=100.0)
SHORT = position(ticket=8, side=Side.SELL, volume=0.3, price_open=1.081, sl=1.083,
                 profit=27.0)
LIMIT = Order(ticket=9, symbol="EURUSD", type=OrderType.BUY_LIMIT, volume=0.10,
              price_open=1.075, sl=1.073, tp=1.085, price_current=1.0801, time_setup=NOW,
              state="placed")
HALTED = RiskState(TradingState.HALTED, manual=True, reason="news")


def decide(intent, state=None, **limit_kw):
    snap = snapshot(positions=(LONG, SHORT), orders=(LIMIT,))
    return evaluate(intent, snap, limits(**limit_kw), state or RiskState(), NOW)


def verdict(decision, code: RiskCode):
    return next(v for v in decision.verdicts if v.code is code)


# -- partial close ------------------------------------------------------------------------------

@pytest.mark.parametrize("volume", [1.0, 0.5, 0.99, 0.01])
def test_close_when_volume_on_step_and_leaves_none_or_a_lot_then_approved(volume):
    decision = decide(close(LONG, volume))
    assert decision.approved
    assert decision.figures.profit_now == pytest.approx(100.0 * volume)
    assert decision.figures.price_bound == pytest.approx(1.08 - 0.0002)


def test_close_when_volume_off_the_lot_step_then_denied():
    decision = decide(close(LONG, 0.555))
    assert decision.denial_codes == (RiskCode.CLOSE_VOLUME,)
    assert "lot step 0.01" in verdict(decision, RiskCode.CLOSE_VOLUME).message


def test_close_when_volume_below_the_smallest_lot_then_denied():
    snap = snapshot(positions=(LONG,), spec=spec(volume_min=0.1, volume_step=0.01))
    decision = evaluate(close(LONG, 0.05), snap, limits(), RiskState(), NOW)
    assert decision.denial_codes == (RiskCode.CLOSE_VOLUME,)


def test_close_when_it_would_leave_less_than_the_smallest_lot_then_denied():
    snap = snapshot(positions=(LONG,), spec=spec(volume_min=0.1, volume_step=0.01))
    decision = evaluate(close(LONG, 0.95), snap, limits(), RiskState(), NOW)
    assert decision.denial_codes == (RiskCode.CLOSE_VOLUME,)
    assert verdict(decision, RiskCode.CLOSE_VOLUME).details["rest"] == pytest.approx(0.05)


def test_close_when_halted_then_still_approved():
    assert decide(close(LONG, 0.5), HALTED).approved


# -- pending order modify -----------------------------------------------------------------------

def modify_order(order=LIMIT, **changes) -> OrderIntent:
    fields = {"price": order.price_open, "sl": order.sl, "tp": order.tp, **changes}
    return OrderIntent(order.symbol, order.side, order.volume, kind=IntentKind.MODIFY_ORDER,
                       order_ticket=order.ticket, **fields)


def test_modify_order_when_price_moves_and_type_stays_then_approved_with_figures():
    decision = decide(modify_order(price=1.076, sl=1.074))
    assert decision.approved
    f = decision.figures
    assert (f.order_type, f.price_before, f.sl_before, f.tp_before) == (
        "buy_limit", 1.075, 1.073, 1.085)
    assert f.entry_price == 1.076 and f.price_bound is None and f.margin_required == 108.01
    assert f.profit_at_sl == pytest.approx(-20.0)  # 200 points x 0.10 lots
    assert (f.digits, f.currency) == (5, "USD")


def test_modify_order_when_price_crosses_the_market_then_denied_as_another_type():
    decision = decide(modify_order(price=1.0805, sl=1.079, tp=1.09))
    assert RiskCode.PENDING_PRICE in decision.denial_codes
    assert "BUY STOP" in verdict(decision, RiskCode.PENDING_PRICE).message


def test_modify_order_when_price_inside_the_stops_level_then_denied():
    decision = decide(modify_order(price=1.08005, sl=1.078, tp=1.085))
    assert RiskCode.PENDING_PRICE in decision.denial_codes


def test_modify_order_when_nothing_changes_then_denied():
    assert decide(modify_order()).denial_codes == (RiskCode.ORDER_TO_MODIFY,)


@pytest.mark.parametrize("order", [replace(LIMIT, ticket=99), replace(LIMIT, symbol="GBPUSD")])
def test_modify_order_when_unknown_or_not_matching_then_denied(order):
    intent = modify_order(order, price=1.076)
    decision = evaluate(replace(intent, symbol="EURUSD"),
                        snapshot(orders=(LIMIT,) if order.ticket == 99 else (order,)),
                        limits(), RiskState(), NOW)
    assert RiskCode.ORDER_TO_MODIFY in decision.denial_codes


def test_modify_order_when_stop_on_the_wrong_side_or_too_risky_then_denied():
    assert RiskCode.STOP_LOSS_PLACEMENT in decide(modify_order(sl=1.077)).denial_codes
    assert RiskCode.RISK_PER_TRADE in decide(modify_order(sl=1.05)).denial_codes
    assert RiskCode.STOP_LOSS_REQUIRED in decide(modify_order(sl=None)).denial_codes


def test_modify_order_when_halted_then_denied():
    assert RiskCode.TRADING_STATE in decide(modify_order(price=1.076), HALTED).denial_codes


def test_modify_order_when_no_price_then_denied():
    assert RiskCode.PENDING_PRICE in decide(modify_order(price=None)).denial_codes


def test_modify_order_when_it_names_no_order_then_invalid():
    intent = replace(modify_order(price=1.076), order_ticket=None)
    assert decide(intent).denial_codes == (RiskCode.INPUT_VALID,)


# -- trailing stop ------------------------------------------------------------------------------

def trail(pos=LONG, distance=0.002) -> OrderIntent:
    return OrderIntent(pos.symbol, pos.side, pos.volume, kind=IntentKind.TRAIL,
                       position_ticket=pos.ticket, trail=distance)


def test_trail_when_in_profit_then_approved_with_the_stop_it_sets_now():
    decision = decide(trail(distance=0.0005))
    assert decision.approved
    f = decision.figures
    assert f.trail_sl == 1.0795 and f.sl_before == 1.077
    assert f.profit_at_sl == pytest.approx(50.0)  # 50 points over 1.00 lot
    assert f.profit_now == 100.0


def test_trail_when_the_stop_is_already_closer_then_approved_and_nothing_moves_yet():
    decision = decide(trail(distance=0.004))
    assert decision.approved and decision.figures.trail_sl is None
    assert decision.figures.profit_at_sl is None


def test_trail_sell_then_stop_above_the_ask():
    assert decide(trail(SHORT, 0.0005)).figures.trail_sl == 1.0806


def test_trail_when_inside_the_stops_level_then_denied():
    decision = decide(trail(distance=0.00005))
    assert decision.denial_codes == (RiskCode.TRAIL_DISTANCE,)


def test_trail_when_halted_then_approved():
    assert decide(trail(), HALTED).approved


@pytest.mark.parametrize("distance", [0.0, -0.001, float("nan"), None])
def test_trail_when_distance_unusable_then_invalid(distance):
    assert decide(trail(distance=distance)).denial_codes == (RiskCode.INPUT_VALID,)


def test_trail_when_position_unknown_then_denied():
    intent = replace(trail(), position_ticket=99)
    assert RiskCode.POSITION_TO_MODIFY in decide(intent).denial_codes


# -- close-all ----------------------------------------------------------------------------------

def close_all(*positions, symbol="*") -> OrderIntent:
    legs = tuple(close(p) for p in positions)
    return OrderIntent(symbol, legs[0].side, sum(leg.volume for leg in legs),
                       kind=IntentKind.CLOSE_ALL, legs=legs)


def test_close_all_when_every_close_passes_then_one_approved_decision_listing_each():
    intent = close_all(LONG, SHORT)
    decision = combine_closes(intent, [decide(leg) for leg in intent.legs])
    assert decision.approved and decision.intent == intent
    legs = decision.figures.legs
    assert [(leg["position"], leg["profit_now"]) for leg in legs] == [(7, 100.0), (8, 27.0)]
    assert legs[0]["price_bound"] == pytest.approx(1.0798)
    assert legs[1]["price_bound"] == pytest.approx(1.0803)
    assert decision.figures.profit_now == pytest.approx(127.0)
    assert len(decision.verdicts) == sum(len(decide(leg).verdicts) for leg in intent.legs)
    assert decision.to_dict()["intent"]["legs"][1]["price_bound"] == legs[1]["price_bound"]


def test_close_all_when_one_close_fails_then_denied_with_its_reason():
    gone = position(ticket=55)
    intent = close_all(LONG, gone)
    decision = combine_closes(intent, [decide(leg) for leg in intent.legs])
    assert not decision.approved
    assert decision.denial_codes == (RiskCode.POSITION_TO_CLOSE,)
    assert decision.figures.profit_now is None  # the missing one has no P/L


def test_close_all_takes_the_strictest_state_the_numbers_imply():
    intent = close_all(LONG)
    down = evaluate(intent.legs[0], snapshot(positions=(LONG,), day_start_equity=10_400.0),
                    limits(), RiskState(), NOW)
    assert combine_closes(intent, [down]).state_after is TradingState.HALTED


def test_close_all_when_decisions_do_not_match_its_closes_then_refused():
    intent = close_all(LONG, SHORT)
    with pytest.raises(ValueError):
        combine_closes(intent, [decide(intent.legs[0])])
    with pytest.raises(ValueError):
        combine_closes(intent, [decide(leg) for leg in reversed(intent.legs)])
    with pytest.raises(ValueError):
        combine_closes(intent.legs[0], [decide(intent.legs[0])])


def test_close_all_evaluated_as_one_order_then_denied():
    intent = replace(close_all(LONG), symbol="EURUSD")
    assert decide(intent).denial_codes == (RiskCode.INPUT_VALID,)


def test_close_all_ticket_holds_each_close_with_its_bound_and_is_claimable(journal):
    intent = close_all(LONG, SHORT, symbol="EURUSD")
    decision = combine_closes(intent, [decide(leg) for leg in intent.legs])
    book = TicketBook(journal)
    ticket = book.mint(decision, intent, thread_id="t", now=NOW)
    stored = book.get(ticket.id)
    assert stored.intent == intent and stored.order_hash == ticket.order_hash
    assert [leg.price_bound for leg in stored.order.legs] == [
        leg["price_bound"] for leg in decision.figures.legs]
    assert book.claim(ticket.id, now=NOW, by="test").status == "claimed"


def test_trail_ticket_keeps_its_distance_and_an_order_without_extras_its_digest(journal):
    decision = decide(trail(distance=0.0005))
    ticket = TicketBook(journal).mint(decision, decision.intent, thread_id="t", now=NOW)
    assert ticket.order.to_dict()["trail"] == 0.0005 and "legs" not in ticket.order.to_dict()
    assert TicketBook(journal).claim(ticket.id, now=NOW, by="test").intent.trail == 0.0005
    plain = ExactOrder.of(close(LONG), 1.0)
    assert set(plain.to_dict()) == {"symbol", "side", "volume", "sl", "tp", "price", "kind",
                                    "position_ticket", "comment", "price_bound"}


def test_exact_order_when_bounds_do_not_match_the_closes_then_refused():
    from agent.domain import CompanionError
    with pytest.raises(CompanionError):
        ExactOrder.of(close_all(LONG, SHORT), None, (1.0,))


def test_open_figures_say_the_loss_at_the_stop_and_the_market_quote():
    decision = evaluate(OrderIntent("EURUSD", Side.BUY, 0.1, sl=1.078, tp=1.085),
                        snapshot(quote=quote()), limits(), RiskState(), NOW)
    assert decision.figures.profit_at_sl == pytest.approx(-21.0)
    assert decision.figures.profit_now is None


# -- invariants, over many volumes and books ----------------------------------------------------


@given(held=st.integers(1, 500), closing=st.integers(1, 600), minimum=st.integers(1, 50),
       offset=st.sampled_from([0.0, 0.3, 0.5]))
def test_invariant_an_approved_close_is_on_step_and_leaves_nothing_or_a_whole_lot(
        held, closing, minimum, offset):
    """Volumes in steps of 0.01 (`offset` of a step puts the request off the grid)."""
    step = 0.01
    pos = position(ticket=3, volume=round(held * step, 2))
    volume = round((closing + offset) * step, 4)
    snap = snapshot(positions=(pos,), spec=spec(volume_min=round(minimum * step, 2)))
    decision = evaluate(close(pos, volume), snap, limits(), RiskState(), NOW)
    if not decision.approved:
        return
    rest = pos.volume - volume
    assert offset == 0.0 and volume <= pos.volume + 1e-9
    assert volume >= minimum * step - 1e-9
    assert abs(rest) < 1e-9 or rest >= minimum * step - 1e-9


@given(gone=st.lists(st.booleans(), min_size=1, max_size=6),
       state=st.sampled_from(list(TradingState)))
def test_invariant_a_close_all_is_approved_only_when_every_close_is(gone, state):
    held = tuple(position(ticket=10 + i, volume=0.1) for i, _ in enumerate(gone))
    present = tuple(p for p, g in zip(held, gone, strict=True) if not g)
    legs = tuple(close(p) for p in held)
    intent = OrderIntent("*", legs[0].side, 0.1 * len(legs), kind=IntentKind.CLOSE_ALL,
                         legs=legs)
    decisions = [evaluate(leg, snapshot(positions=present), limits(), RiskState(state), NOW)
                 for leg in legs]
    combined = combine_closes(intent, decisions)
    assert combined.approved == (not any(gone)) == all(d.approved for d in decisions)
    assert len(combined.figures.legs) == len(legs)
