"""Trading state, day rollover, peak, losing streak and order times, persisted in the journal."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest

from agent.domain import CompanionError, TradingState
from agent.risk.engine import evaluate
from agent.risk.snapshot import RiskState
from agent.risk.state import STATE_CHANGED, STATE_FILE, RiskStateStore
from agent.store import Journal
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


# -- the trading state survives the loss of the journal (issue 15) ------------------------------

def reopen(journal, tmp_path):
    """The journal file emptied as by `: > journal.db`, and the store opened on it again."""
    journal.close()
    for suffix in ("", "-wal", "-shm"):
        path = tmp_path / f"journal.db{suffix}"
        if path.exists():
            path.write_bytes(b"")
    fresh = Journal(tmp_path / "journal.db")
    return fresh, RiskStateStore(fresh)


def kept_in_file(store):
    return json.loads(store.state_file.read_text())["state"]


def test_state_file_when_state_changes_then_holds_the_journal_state(store, journal):
    assert store.state_file == journal.path.with_name(STATE_FILE)
    assert not store.state_file.exists() and "not written yet" in store.file_status()
    store.halt("news", by="cli", now=NOW)
    assert kept_in_file(store) == journal.kv_get("risk", "state")
    assert store.file_status().startswith("ok: HALTED")
    store.resume(by="cli", now=NOW)
    assert kept_in_file(store)["trading_state"] == "ACTIVE"
    assert not list(store.state_file.parent.glob(f".{STATE_FILE}.*"))  # no temp file left


def test_halt_when_journal_emptied_then_halt_restored_at_open_and_said(store, journal,
                                                                       tmp_path):
    store.halt("news at 14:30", by="cli", now=NOW)
    fresh, reopened = reopen(journal, tmp_path)
    state = reopened.current()
    assert state.trading_state is TradingState.HALTED and state.manual
    assert state.reason.startswith("news at 14:30; restored from risk-state.json")
    assert reopened.restored and "HALTED" in reopened.restored
    assert reopened.file_status() == reopened.restored
    assert [e["payload"]["by"] for e in state_events(fresh)] == ["state_file"]
    again = RiskStateStore(fresh)  # restored once; the next open finds them agreeing
    assert again.restored is None and again.current() == state
    assert again.file_status().startswith("ok: HALTED")
    assert again.resume(by="cli", now=NOW).trading_state is TradingState.ACTIVE
    fresh.close()


def test_halt_restored_twice_then_reason_says_it_once(store, journal, tmp_path):
    store.halt("", by="cli", now=NOW)
    fresh, reopened = reopen(journal, tmp_path)
    fresh, reopened = reopen(fresh, tmp_path)
    assert reopened.current().reason == ("restored from risk-state.json, because the journal "
                                         "had lost it")
    fresh.close()


def test_halt_when_journal_rows_deleted_while_running_then_still_halted(store, journal):
    store.halt("news", by="cli", now=NOW)
    with journal.transaction() as db:
        db.execute("DELETE FROM kv")
    assert store.current().trading_state is TradingState.HALTED
    assert evaluate(buy(), snapshot(), limits(), store.current(), NOW).approved is False


def test_journal_with_a_laxer_state_when_opened_then_the_file_wins(store, journal):
    store.halt("news", by="cli", now=NOW)
    journal.kv_set("risk", "state", RiskState().to_dict())  # an old copy of the journal
    reopened = RiskStateStore(journal)
    assert reopened.current().trading_state is TradingState.HALTED
    assert "held a laxer state" in reopened.current().reason


def test_journal_with_a_stricter_state_when_opened_then_the_journal_wins(store, journal):
    store.halt("news", by="cli", now=NOW)
    store.state_file.write_text(json.dumps({"state": RiskState().to_dict()}))
    reopened = RiskStateStore(journal)
    assert reopened.restored is None and reopened.current().trading_state is TradingState.HALTED
    assert kept_in_file(reopened)["trading_state"] == "HALTED"  # rewritten


def test_state_file_damaged_when_journal_has_the_state_then_rewritten(store, journal):
    store.halt("news", by="cli", now=NOW)
    store.state_file.write_text("{not json")
    assert "could not be read" in store.file_status()
    reopened = RiskStateStore(journal)
    assert reopened.restored is None and kept_in_file(reopened)["reason"] == "news"


def test_state_file_damaged_and_journal_emptied_then_halted_until_resumed(store, journal,
                                                                          tmp_path):
    store.halt("news", by="cli", now=NOW)
    store.state_file.write_text('{"state": {"trading_state": "SIDEWAYS"}}')
    fresh, reopened = reopen(journal, tmp_path)
    state = reopened.current()
    assert state.trading_state is TradingState.HALTED and state.cause == "manual"
    assert "trading state was lost" in state.reason and reopened.restored
    assert reopened.resume(by="cli", now=NOW).trading_state is TradingState.ACTIVE
    fresh.close()


def test_state_file_when_it_cannot_be_written_then_halt_still_holds(store, journal, monkeypatch,
                                                                    caplog):
    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("agent.risk.state.os.replace", refuse)
    assert store.halt("news", by="cli", now=NOW).trading_state is TradingState.HALTED
    assert RiskStateStore(journal).current().trading_state is TradingState.HALTED
    assert "could not write the trading state" in caplog.text
    assert not list(store.state_file.parent.glob(f".{STATE_FILE}.*"))


def test_state_file_when_it_differs_then_doctor_says_so(store, journal):
    store.halt("news", by="cli", now=NOW)
    store.state_file.write_text(json.dumps({"state": {**kept_in_file(store), "reason": "x"}}))
    assert "differs from the journal" in store.file_status()


def test_in_memory_journal_then_no_state_file():
    memory = Journal(":memory:")
    store = RiskStateStore(memory)
    assert store.state_file is None and store.restored is None
    assert store.file_status().startswith("none")
    assert store.halt("news", by="cli", now=NOW).trading_state is TradingState.HALTED
    memory.close()
