"""One approve and one deny per rule, asserting on codes and outcomes."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest

from agent.domain import OrderIntent, Side, TradingState
from agent.risk.checks import RiskCode, on_step
from agent.risk.engine import evaluate
from agent.risk.snapshot import RiskState
from tests.risk.builders import (
    NOW, account, buy, close, limits, position, quote, sell, snapshot, spec,
)

ACTIVE = RiskState()
HALTED = RiskState(TradingState.HALTED, manual=True, reason="news", cause="manual")
REDUCING = RiskState(TradingState.REDUCING, reason="down 2.1% today", cause="daily_loss")


def decide(intent=None, snap=None, lim=None, state=ACTIVE, now=NOW):
    return evaluate(intent or buy(), snap or snapshot(), lim or limits(), state, now)


def test_order_when_everything_is_in_limits_then_approved():
    decision = decide()
    assert decision.approved
    assert decision.denials == ()
    assert decision.explain() == []
    assert len(decision.verdicts) == 25
    assert decision.state_after is TradingState.ACTIVE
    figures = decision.figures
    assert figures.entry_price == 1.0801
    assert figures.money_at_risk == pytest.approx(21.0)
    assert figures.risk_pct == pytest.approx(0.21)
    assert figures.reward_risk == pytest.approx(49 / 21)
    assert figures.price_bound == pytest.approx(1.0801 + 20 * 0.00001)
    assert figures.spread_points == pytest.approx(10.0)


def test_sell_when_approved_then_entry_is_bid_and_bound_below():
    decision = decide(sell())
    assert decision.approved
    assert decision.figures.entry_price == 1.08
    assert decision.figures.price_bound == pytest.approx(1.08 - 20 * 0.00001)


def test_every_verdict_message_is_a_sentence_with_no_unfilled_field():
    for decision in (decide(), decide(buy(volume=50.0, sl=1.08005, tp=1.0802),
                                      lim=limits(trading_hours_utc="00:00-01:00"))):
        for verdict in decision.verdicts:
            assert verdict.message.endswith(".") and "{" not in verdict.message
        assert decision.to_dict()["verdicts"][0]["code"] == "broker_connected"


def test_distances_when_told_then_in_points_with_pips_beside_them():
    said = {v.code: v.message for v in decide().verdicts}
    assert said[RiskCode.STOP_LOSS_PLACEMENT] == ("The stop-loss is 200 points (20.0 pips) away, "
                                                  "beyond the stops level.")
    assert said[RiskCode.SPREAD] == ("The spread is 10 points (1.0 pips), within 30 points "
                                     "(3.0 pips).")
    (denied,) = decide(buy(sl=1.07995, tp=None)).denials
    assert denied.message == ("The stop-loss is 5 points (0.5 pips) from the price; the broker "
                              "needs at least 10 points (1.0 pips).")


DENIALS = {
    "when_broker_disconnected": (dict(snap=snapshot(broker_connected=False)),
                                 RiskCode.BROKER_CONNECTED),
    "when_account_cannot_trade": (dict(snap=snapshot(account=account(trade_allowed=False))),
                                  RiskCode.BROKER_CONNECTED),
    "when_volume_nan": (dict(intent=buy(volume=math.nan)), RiskCode.INPUT_VALID),
    "when_volume_negative": (dict(intent=buy(volume=-0.1)), RiskCode.INPUT_VALID),
    "when_volume_zero": (dict(intent=buy(volume=0.0)), RiskCode.INPUT_VALID),
    "when_sl_infinite": (dict(intent=buy(sl=math.inf)), RiskCode.INPUT_VALID),
    "when_tp_nan": (dict(intent=buy(tp=math.nan)), RiskCode.INPUT_VALID),
    "when_symbol_differs_from_quote": (dict(intent=replace(buy(), symbol="GBPUSD")),
                                       RiskCode.INPUT_VALID),
    "when_equity_nan": (dict(snap=snapshot(account=account(equity=math.nan))),
                        RiskCode.MARKET_DATA_VALID),
    "when_tick_value_zero": (dict(snap=snapshot(spec=spec(tick_value=0.0))),
                             RiskCode.MARKET_DATA_VALID),
    "when_ask_below_bid": (dict(snap=snapshot(quote=quote(bid=1.1, ask=1.0))),
                           RiskCode.MARKET_DATA_VALID),
    "when_symbol_not_allowed": (dict(lim=limits(allowed_symbols=("GBPUSD",))),
                                RiskCode.SYMBOL_ALLOWED),
    "when_saturday": (dict(now=NOW + timedelta(days=3)), RiskCode.TRADING_DAY),
    "when_outside_trading_hours": (dict(lim=limits(trading_hours_utc="13:00-20:00")),
                                   RiskCode.TRADING_HOURS),
    "when_outside_overnight_hours": (dict(lim=limits(trading_hours_utc="22:00-06:00")),
                                     RiskCode.TRADING_HOURS),
    "when_halted": (dict(state=HALTED), RiskCode.TRADING_STATE),
    "when_reducing_and_order_adds": (dict(state=REDUCING), RiskCode.TRADING_STATE),
    "when_no_stop_loss": (dict(intent=buy(sl=None)), RiskCode.STOP_LOSS_REQUIRED),
    "when_buy_sl_above_entry": (dict(intent=buy(sl=1.0810)), RiskCode.STOP_LOSS_PLACEMENT),
    "when_sl_inside_stops_level": (dict(intent=buy(sl=1.07995, tp=None)),
                                   RiskCode.STOP_LOSS_PLACEMENT),
    "when_sell_sl_below_entry": (dict(intent=sell(sl=1.0790)), RiskCode.STOP_LOSS_PLACEMENT),
    "when_buy_tp_below_entry": (dict(intent=buy(tp=1.0790)), RiskCode.TAKE_PROFIT_PLACEMENT),
    "when_tp_inside_stops_level": (dict(intent=buy(sl=1.0795, tp=1.0802),
                                        snap=snapshot(spec=spec(stops_level=30))),
                                   RiskCode.TAKE_PROFIT_PLACEMENT),
    "when_volume_below_min": (dict(intent=buy(volume=0.001)), RiskCode.VOLUME_RANGE),
    "when_volume_above_symbol_max": (dict(snap=snapshot(spec=spec(volume_max=0.05))),
                                     RiskCode.VOLUME_RANGE),
    "when_volume_off_step": (dict(intent=buy(volume=0.105)), RiskCode.VOLUME_STEP),
    "when_volume_above_cap": (dict(lim=limits(max_volume_lots=0.05)), RiskCode.VOLUME_CAP),
    "when_risk_above_limit": (dict(intent=buy(volume=1.0)), RiskCode.RISK_PER_TRADE),
    "when_reward_below_risk": (dict(intent=buy(tp=1.0811)), RiskCode.REWARD_RISK),
    "when_too_many_positions": (dict(lim=limits(max_open_positions=1),
                                     snap=snapshot(positions=(position(),))),
                                RiskCode.OPEN_POSITIONS),
    "when_too_many_in_symbol": (dict(lim=limits(max_positions_per_symbol=1),
                                     snap=snapshot(positions=(position(),))),
                                RiskCode.SYMBOL_POSITIONS),
    "when_margin_used_too_high": (dict(snap=snapshot(margin_required=3_500.0)),
                                  RiskCode.MARGIN_USED),
    "when_margin_level_too_low": (dict(lim=limits(min_margin_level_pct=10_000)),
                                  RiskCode.MARGIN_LEVEL),
    "when_daily_loss_past_halt": (dict(snap=snapshot(account=account(equity=9_650.0))),
                                  RiskCode.DAILY_LOSS),
    "when_daily_loss_past_reduce": (dict(snap=snapshot(account=account(equity=9_780.0))),
                                    RiskCode.DAILY_LOSS),
    "when_drawdown_from_peak": (dict(snap=snapshot(equity_peak=11_200.0)), RiskCode.DRAWDOWN),
    "when_spread_too_wide": (dict(snap=snapshot(quote=quote(ask=1.0805))), RiskCode.SPREAD),
    "when_rate_limit_reached": (dict(snap=snapshot(recent_order_times=tuple(
        NOW - timedelta(seconds=s) for s in (5, 10, 20, 30, 50)))), RiskCode.ORDER_RATE),
    "when_in_loss_cooldown": (dict(snap=snapshot(consecutive_losses=3,
                                                 last_loss_time=NOW - timedelta(minutes=10))),
                              RiskCode.LOSS_COOLDOWN),
    "when_losing_streak_time_unknown": (dict(snap=snapshot(consecutive_losses=3)),
                                        RiskCode.LOSS_COOLDOWN),
    "when_currency_exposure_above_cap": (dict(lim=limits(max_currency_exposure_x=1.0)),
                                         RiskCode.CURRENCY_EXPOSURE),
    "when_fx_rate_missing": (dict(snap=snapshot(fx_to_account={})), RiskCode.CURRENCY_EXPOSURE),
}


@pytest.mark.parametrize("case", list(DENIALS), ids=list(DENIALS))
def test_order_then_denied_with_code(case):
    kwargs, code = DENIALS[case]
    decision = decide(**kwargs)
    assert not decision.approved
    assert code in decision.denial_codes
    assert all(v.message for v in decision.denials)


APPROVALS = {
    "when_no_sl_and_sl_not_required": dict(intent=buy(sl=None, tp=None),
                                           lim=limits(require_stop_loss=False)),
    "when_inside_overnight_hours": dict(lim=limits(trading_hours_utc="11:00-06:00")),
    "when_hours_span_whole_day": dict(lim=limits(trading_hours_utc="07:00-07:00")),
    "when_pending_limit_order": dict(intent=buy(price=1.0790, sl=1.0770, tp=1.0850)),
    "when_reward_rule_disabled": dict(intent=buy(tp=1.0811), lim=limits(min_reward_risk=0)),
    "when_cooldown_over": dict(snap=snapshot(consecutive_losses=3,
                                             last_loss_time=NOW - timedelta(minutes=61))),
    "when_cooldown_disabled": dict(snap=snapshot(consecutive_losses=9),
                                   lim=limits(max_consecutive_losses=0)),
    "when_old_orders_outside_rate_window": dict(snap=snapshot(recent_order_times=tuple(
        NOW - timedelta(seconds=s) for s in (61, 70, 80, 90, 100)))),
    "when_static_drawdown_measured_from_start": dict(
        snap=snapshot(equity_peak=11_200.0), lim=limits(drawdown_mode="static")),
    "when_no_margin_in_use": dict(snap=snapshot(margin_required=0.0)),
    "when_naive_now_taken_as_utc": dict(now=NOW.replace(tzinfo=None)),
    "when_cfd_in_own_currency": dict(
        snap=snapshot(positions=(position(2, "US30", volume=1.0),),
                      specs={"US30": spec("US30", currency_base="USD", currency_profit="USD")},
                      prices={"US30": 37_000.0})),
}


@pytest.mark.parametrize("case", list(APPROVALS), ids=list(APPROVALS))
def test_order_then_approved(case):
    decision = decide(**APPROVALS[case])
    assert decision.approved, decision.explain()


def test_order_when_halted_then_denied_but_close_allowed():
    pos = position()
    snap = snapshot(positions=(pos,))
    assert RiskCode.TRADING_STATE in decide(buy(), snap, state=HALTED).denial_codes
    assert decide(close(pos), snap, state=HALTED).approved


def test_close_when_outside_hours_wide_spread_and_daily_loss_then_allowed():
    pos = position()
    snap = snapshot(positions=(pos,), quote=quote(ask=1.0810),
                    account=account(equity=9_000.0))
    decision = decide(close(pos, 0.05), snap, limits(trading_hours_utc="00:00-01:00"))
    assert decision.approved
    assert decision.state_after is TradingState.HALTED


@pytest.mark.parametrize("intent", [
    OrderIntent("EURUSD", Side.SELL, 0.1, kind="close", position_ticket=99),
    OrderIntent("EURUSD", Side.BUY, 0.1, kind="close", position_ticket=1),
    OrderIntent("EURUSD", Side.SELL, 0.2, kind="close", position_ticket=1),
], ids=["unknown_position", "same_side", "more_than_held"])
def test_close_when_it_does_not_match_the_position_then_denied(intent):
    intent = replace(intent, kind=type(buy().kind)("close"))
    decision = decide(intent, snapshot(positions=(position(),)))
    assert decision.denial_codes == (RiskCode.POSITION_TO_CLOSE,)


def test_close_without_position_ticket_then_denied():
    intent = replace(close(position()), position_ticket=None)
    assert decide(intent).denial_codes == (RiskCode.INPUT_VALID,)


def test_order_when_reducing_and_order_shrinks_position_then_approved():
    snap = snapshot(positions=(position(volume=0.2),))
    decision = decide(sell(volume=0.1), snap, state=REDUCING)
    assert decision.approved
    assert RiskCode.TRADING_STATE in decide(sell(volume=0.3), snap, state=REDUCING).denial_codes


def test_daily_loss_past_reduce_level_then_state_after_reducing():
    decision = decide(snap=snapshot(account=account(equity=9_780.0)))
    assert decision.state_after is TradingState.REDUCING
    assert decision.state_cause == "daily_loss"
    shrink = decide(sell(volume=0.1), snapshot(positions=(position(volume=0.2),),
                                                account=account(equity=9_780.0)))
    assert shrink.approved and shrink.state_after is TradingState.REDUCING


def test_daily_loss_past_halt_then_state_after_halted_and_never_relaxed():
    decision = decide(snap=snapshot(account=account(equity=9_650.0)))
    assert decision.state_after is TradingState.HALTED
    assert decide(state=HALTED).state_after is TradingState.HALTED


def test_drawdown_past_limit_then_state_after_halted():
    decision = decide(snap=snapshot(equity_peak=11_200.0))
    assert decision.state_after is TradingState.HALTED
    assert decision.state_cause == "drawdown"


def test_currency_exposure_when_second_eur_long_then_counts_eur_twice():
    eurgbp = spec("EURGBP", tick_value=1.27)
    held = position(2, "EURGBP", volume=0.5)
    snap = snapshot(positions=(held,), specs={"EURGBP": eurgbp},
                    prices={"EURGBP": 0.85}, fx_to_account={"EUR": 1.08, "GBP": 1.27})
    # 0.5 lot EURGBP = 54,000 USD of EUR; + 0.5 lot EURUSD = 108,000 USD of EUR: 10.8x equity.
    decision = decide(buy(volume=0.5, sl=1.0798, tp=1.0810), snap)
    assert RiskCode.CURRENCY_EXPOSURE in decision.denial_codes
    # Selling EURUSD against the EURGBP long nets EUR out: allowed.
    assert decide(sell(volume=0.5, sl=1.0803, tp=1.0790), snap).approved


def test_currency_exposure_when_reducing_an_exposure_above_cap_then_allowed():
    held = position(volume=1.0)
    snap = snapshot(positions=(held,))
    assert decide(sell(volume=0.1), snap, limits(max_currency_exposure_x=1.0,
                                                  max_positions_per_symbol=5)).approved


def test_currency_exposure_when_held_symbol_spec_missing_then_denied():
    snap = snapshot(positions=(position(2, "GBPUSD"),))
    assert RiskCode.CURRENCY_EXPOSURE in decide(snap=snap).denial_codes


def test_when_inputs_invalid_then_only_guards_run_and_figures_empty():
    decision = decide(buy(volume=math.nan))
    assert [v.code for v in decision.verdicts] == [
        RiskCode.BROKER_CONNECTED, RiskCode.INPUT_VALID, RiskCode.MARKET_DATA_VALID]
    assert decision.figures.entry_price is None
    assert decision.to_dict()["approved"] is False


def test_when_value_is_not_a_number_then_denied_not_crashed():
    assert RiskCode.INPUT_VALID in decide(buy(volume="0.1")).denial_codes  # type: ignore[arg-type]
    snap = snapshot(spec=spec(stops_level=-1), consecutive_losses=-1,
                    positions=(position(volume=math.nan),))
    verdict = decide(snap=snap).denials[0]
    assert verdict.code is RiskCode.MARKET_DATA_VALID
    assert set(verdict.details["fields"]) == {"stops_level", "consecutive_losses", "positions"}


def test_when_volume_max_below_min_then_market_data_invalid():
    snap = snapshot(spec=spec(volume_min=1.0, volume_max=0.5))
    assert decide(snap=snap).denial_codes == (RiskCode.MARKET_DATA_VALID,)


def test_on_step_absorbs_float_error():
    assert on_step(0.3, 0.01) and on_step(0.07, 0.01) and on_step(1.1, 0.1)
    assert not on_step(0.015, 0.01)
    assert not on_step(1e300, 1e-300)


def test_when_side_is_not_a_side_then_input_invalid():
    intent = replace(buy(), side="long")  # type: ignore[arg-type]
    assert decide(intent).denial_codes == (RiskCode.INPUT_VALID,)


def test_a_verdict_template_naming_a_missing_field_then_a_key_error_not_a_loop():
    from agent.risk.checks import Verdict

    with pytest.raises(KeyError):
        Verdict(RiskCode.SPREAD, True, "The {nothing} is here.", {}).message
    spoken = Verdict(RiskCode.SPREAD, True, "{limit_words}.", {"limit": 30, "digits": 5})
    assert spoken.message == "30 points (3.0 pips)."
