"""Trading state, day rollover, peak, losing streak and order times, persisted in the journal."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from agent.domain import CompanionError, TradingState
from agent.risk.engine import evaluate
from agent.risk.snapshot import RiskState
from agent.risk.state import STATE_CHANGED, RiskStateStore
from tests.risk.builders import NOW, account, buy, limits, snapshot


@pytest.fixture
def store(journal):
    return RiskStateStore(journal)


def state_events(journal):
    return journal.rows("events", "type = ?", [STATE_CHANGED])


def daily_loss_decision(equity=9_650.0, lim=None):
    return evaluate(buy(), snapshot(account=account(equity=equity)), lim or limits(),
                    RiskState(), NOW)


def test_fresh_store_when_read_then_active(store):
    assert store.current() == RiskState()


def test_halt_when_done_twice_then_one_change_journaled(store, journal):
    first = store.halt("news at 14:30", by="cli", now=NOW)
    second = store.halt("again", by="web", now=NOW)
    assert first.trading_state is second.trading_state is TradingState.HALTED
    assert second.reason == "news at 14:30" and second.manual
    assert len(state_events(journal)) == 1
    assert RiskStateStore(journal).current() == first  # persisted


def test_resume_when_manual_halt_then_active_and_journaled(store, journal):
    store.halt("news", by="cli", now=NOW)
    assert store.resume(by="cli", now=NOW).trading_state is TradingState.ACTIVE
    assert store.resume(by="cli", now=NOW).trading_state is TradingState.ACTIVE
    assert [e["payload"]["trading_state"] for e in state_events(journal)] == ["HALTED", "ACTIVE"]


def test_apply_when_daily_loss_halts_then_resume_refused_same_day(store):
    halted = store.apply(daily_loss_decision(), NOW)
    assert halted.trading_state is TradingState.HALTED and not halted.manual
    assert halted.cause == "daily_loss"
    with pytest.raises(CompanionError) as refused:
        store.resume(by="cli", now=NOW + timedelta(hours=1), limits=limits())
    assert refused.value.code == "resume_refused"
    assert store.current().trading_state is TradingState.HALTED


def test_resume_when_daily_loss_halt_and_next_day_then_active(store):
    store.apply(daily_loss_decision(), NOW)
    assert store.resume(by="cli", now=NOW + timedelta(hours=13)).trading_state is (
        TradingState.ACTIVE)


def test_resume_when_daily_loss_limit_changed_then_active(store):
    store.apply(daily_loss_decision(), NOW)
    raised = limits(max_daily_loss_pct=5.0)
    assert store.resume(by="cli", now=NOW, limits=raised).trading_state is TradingState.ACTIVE


def test_apply_when_decision_implies_nothing_stricter_then_no_change(store, journal):
    store.apply(evaluate(buy(), snapshot(), limits(), RiskState(), NOW), NOW)
    store.apply(daily_loss_decision(equity=9_780.0), NOW)  # REDUCING
    store.apply(daily_loss_decision(equity=9_780.0), NOW)  # again: idempotent
    assert store.current().trading_state is TradingState.REDUCING
    assert len(state_events(journal)) == 1


def test_apply_when_drawdown_then_halted_with_drawdown_cause(store):
    decision = evaluate(buy(), snapshot(equity_peak=11_200.0), limits(), RiskState(), NOW)
    state = store.apply(decision, NOW)
    assert (state.trading_state, state.cause) == (TradingState.HALTED, "drawdown")
    assert store.resume(by="cli", now=NOW).trading_state is TradingState.ACTIVE


def test_observe_when_new_utc_day_then_day_start_rolls_over(store):
    assert store.observe(10_000.0, NOW, balance=9_900.0).day_start_equity == 10_000.0
    later = store.observe(9_700.0, NOW + timedelta(hours=11))
    assert later.day_start_equity == 10_000.0
    assert later.starting_balance == 9_900.0
    next_day = store.observe(9_650.0, NOW + timedelta(hours=12, minutes=1))
    assert next_day.day_start_equity == 9_650.0


def test_observe_when_equity_rises_then_peak_follows_and_never_falls(store):
    store.observe(10_000.0, NOW)
    store.observe(10_500.0, NOW)
    assert store.observe(10_100.0, NOW).equity_peak == 10_500.0


def test_observe_when_equity_nan_before_any_valid_reading_then_nan_baselines(store):
    inputs = store.observe(math.nan, NOW)
    assert math.isnan(inputs.day_start_equity) and math.isnan(inputs.equity_peak)
    decision = evaluate(buy(), snapshot(day_start_equity=inputs.day_start_equity), limits(),
                        RiskState(), NOW)
    assert not decision.approved


def test_record_closed_trade_when_losses_then_streak_and_win_resets(store):
    assert store.record_closed_trade(-10.0, NOW, deal=1) == 1
    assert store.record_closed_trade(-10.0, NOW, deal=1) == 1  # same deal: counted once
    assert store.record_closed_trade(-5.0, NOW + timedelta(minutes=1), deal=2) == 2
    assert store.record_closed_trade(0.0, NOW, deal=3) == 2  # break-even leaves it
    inputs = store.observe(10_000.0, NOW)
    assert inputs.consecutive_losses == 2
    assert inputs.last_loss_time == NOW + timedelta(minutes=1)
    assert store.record_closed_trade(12.0, NOW) == 0


def test_record_order_when_older_than_a_minute_then_dropped(store):
    store.record_order(NOW - timedelta(seconds=90))
    store.record_order(NOW - timedelta(seconds=30))
    store.record_order(NOW)
    assert store.observe(10_000.0, NOW).recent_order_times == (
        NOW - timedelta(seconds=30), NOW)


def test_store_inputs_when_streak_in_cooldown_then_engine_denies(store):
    for deal in range(3):
        store.record_closed_trade(-1.0, NOW - timedelta(minutes=5), deal=deal)
    inputs = store.observe(10_000.0, NOW)
    snap = snapshot(consecutive_losses=inputs.consecutive_losses,
                    last_loss_time=inputs.last_loss_time)
    assert not evaluate(buy(), snap, limits(), store.current(), NOW).approved
