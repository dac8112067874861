"""The service's typed methods a channel calls instead of reaching around it (issue #14 item 1):
data reads, trading state, alerts, model choice, the paper clock, doctor, a channel's store.
Each returns a dataclass; each refusal is a CompanionError that changes nothing."""

from __future__ import annotations

import asyncio

import pytest

from agent.domain import CompanionError, Quote, TradingState
from agent.graph.routing import SelectorRouter
from agent.models.detector import ModelInfo
from agent.models.selector import ModelSelector
from agent.service_ops import AUTOMATIC


async def assert_refused(call, code: str) -> None:
    with pytest.raises(CompanionError) as caught:
        await call
    assert caught.value.code == code and caught.value.message


# -- data -----------------------------------------------------------------------------------------

async def test_quote_when_read_then_typed_with_the_symbol_as_the_broker_spells_it(companion):
    quote = await companion.service.quote("eurusd")
    assert isinstance(quote, Quote) and quote.symbol == "EURUSD" and quote.ask > quote.bid


async def test_reads_when_the_input_is_bad_then_refused_with_a_code(companion):
    service = companion.service
    await assert_refused(service.quote("EUR USD"), "bad_symbol")
    await assert_refused(service.bars("EURUSD", "H1", 0), "bad_count")
    await assert_refused(service.bars_frame("EURUSD", "H1", 5001), "bad_count")
    await assert_refused(service.history(0), "bad_days")
    await assert_refused(service.size("EURUSD", 1.0, 1.0, side="long"), "bad_side")


async def test_bars_when_read_then_rows_and_a_frame_of_the_same_bars(companion):
    table = await companion.service.bars("EURUSD", "h1", 5)
    frame = await companion.service.bars_frame("EURUSD", "h1", 5)
    assert table["timeframe"] == "H1" and len(table["bars"]) == len(frame) == 5
    assert table["bars"][-1]["close"] == pytest.approx(float(frame["close"].iloc[-1]), abs=1e-5)


async def test_account_when_read_then_figures_and_trading_state_together(companion):
    status = await companion.service.account()
    assert status.account.equity > 0 and status.risk.trading_state is TradingState.ACTIVE
    data = status.to_dict()
    assert data["equity"] == status.account.equity and data["risk"]["trading_state"] == "ACTIVE"
    assert await companion.service.positions() == []


# -- trading state --------------------------------------------------------------------------------

async def test_halt_when_asked_then_halted_with_the_reason_and_resume_lifts_it(companion):
    service = companion.service
    halted = await service.halt("news at 14:30", by="test")
    assert halted.trading_state is TradingState.HALTED and halted.reason == "news at 14:30"
    assert (await service.risk_state()).trading_state is TradingState.HALTED
    assert (await service.resume(by="test")).trading_state is TradingState.ACTIVE


async def test_halt_when_no_reason_then_refused_and_still_active(companion):
    await assert_refused(companion.service.halt("   ", by="test"), "bad_reason")
    assert (await companion.service.risk_state()).trading_state is TradingState.ACTIVE


async def test_risk_status_when_read_then_state_file_and_limits(companion):
    status = (await companion.service.risk_status()).to_dict()
    assert status["state"]["trading_state"] == "ACTIVE"
    assert status["limits"] == companion.settings.risk.model_dump(mode="json")


# -- alerts ---------------------------------------------------------------------------------------

async def test_alert_when_added_then_listed_and_when_removed_then_gone(companion):
    service = companion.service
    alert = await service.add_alert("eurusd", "above 1.5")
    assert alert.rule.symbol == "EURUSD" and alert.status == "active"
    assert alert.rule.describe() == "EURUSD bid crosses above 1.5"
    assert [a.id for a in await service.alerts()] == [alert.id]
    assert (await service.remove_alert(alert.id)).status == "cancelled"
    assert await service.alerts() == []
    await assert_refused(service.remove_alert(alert.id), "alert_unknown")


async def test_alert_when_the_condition_is_unreadable_then_refused_and_none_stored(companion):
    await assert_refused(companion.service.add_alert("EURUSD", "when it feels right"), "bad_alert")
    await assert_refused(companion.service.add_alert("EURUSD", "above"), "bad_alert")
    assert await companion.service.alerts() == []


# -- models ---------------------------------------------------------------------------------------

async def test_model_choice_when_command_mode_then_only_automatic(companion):
    service = companion.service
    assert service.model_choice().to_dict() == {"current": AUTOMATIC,
                                                "available": [AUTOMATIC], "selectable": False}
    assert service.choose_model(None).current == AUTOMATIC
    with pytest.raises(CompanionError) as caught:
        service.choose_model("qwen")
    assert caught.value.code == "model_unknown"


async def test_model_choice_when_a_selector_runs_then_the_pick_applies_and_a_stranger_is_refused(
        settings, clock):
    from agent.app import open_companion

    models = [ModelInfo("qwen", "ollama", "http://127.0.0.1:1"),
              ModelInfo("tiny", "openai_compatible", "http://127.0.0.1:2")]
    selector = ModelSelector(models)
    router = SelectorRouter(selector, build=lambda *a, **k: None)
    async with open_companion(settings, router=router, clock=clock) as c:
        service = c.service
        assert service.model_choice().available == (AUTOMATIC, "qwen", "tiny")
        assert service.choose_model("tiny").current == "tiny" and selector.user_choice == "tiny"
        with pytest.raises(CompanionError):
            service.choose_model("gpt-9")
        assert selector.user_choice == "tiny"  # the refusal changed nothing
        assert service.choose_model(AUTOMATIC).current == AUTOMATIC
        assert selector.user_choice is None


# -- paper clock, doctor, stores ------------------------------------------------------------------

async def test_paper_step_when_asked_then_the_clock_moves_by_that_many_bars(companion):
    before = await companion.service.paper_clock()
    after = await companion.service.paper_step(3)
    assert before.mode == "stepped" and after.bars_left == before.bars_left - 3
    await assert_refused(companion.service.paper_step(0), "bad_bars")
    assert (await companion.service.paper_clock()).bars_left == after.bars_left


async def test_doctor_when_asked_then_the_companions_own_journal_and_state(companion):
    report = await companion.service.doctor()
    assert report["broker"] == "paper" and report["trading_state"] == "ACTIVE"
    assert report["journal"] == str(companion.settings.journal_path)
    assert "EURUSD" in report["symbols"]


async def test_channel_store_when_set_then_read_back_and_failures_journaled(companion):
    store = companion.service.channel_store("telegram")
    assert store.get("notify", {}) == {}
    store.set("notify", {"alert_fired": "silent"})
    assert companion.service.channel_store("telegram").get("notify") == {"alert_fired": "silent"}
    store.record_undelivered({"label": "ticket", "chat_id": 1, "text": "x", "error": "Forbidden"})
    [row] = companion.journal.rows("events", "type = ?", ["telegram_failed"])
    assert row["payload"]["error"] == "Forbidden"
    with pytest.raises(CompanionError):
        companion.service.channel_store("tele gram")


# -- what a long-running channel holds --------------------------------------------------------

async def test_a_part_restart_when_reported_then_every_channel_hears_it(companion):
    from agent.events import EventType

    with companion.service.events([EventType.PART_RESTARTED]) as heard:
        companion.service.part_restarted("telegram", "TimeoutError", 2, 4.0)
        event = await asyncio.wait_for(heard.get(), 5)
    assert event.payload == {"part": "telegram", "error": "TimeoutError", "attempt": 2,
                             "delay_s": 4.0}


async def test_the_runtime_when_run_from_the_service_then_it_becomes_the_runner(companion):
    service = companion.service
    assert service.runtime_poll_s == companion.runtime.poll_s > 0
    running = asyncio.create_task(service.run_runtime())
    roles = []
    for _ in range(100):
        roles.append(companion.runtime.role)
        if roles[-1] == "runner":
            break
        await asyncio.sleep(0.05)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert roles[-1] == "runner"
    report = await service.health_monitor().check()
    assert report.terminal.connected
