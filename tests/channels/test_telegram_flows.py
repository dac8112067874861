"""The real python-telegram-bot Application against a local Bot API server on 127.0.0.1,
over a companion on a stepped paper terminal (command mode, no model)."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from pydantic import SecretStr

from agent.alerts.watcher import AlertWatcher
from agent.config import TelegramSettings
from agent.events import EventType
from channels.telegram.bot import running_bot
from channels.telegram.outbox import Outbox
from tests.support.bot_api_server import BotApiServer

pytestmark = pytest.mark.slow

TOKEN = "123456:TEST-token-never-logged"
ME, STRANGER = 1001, 666
BUY = "/buy EURUSD 0.1 sl 1.1100 tp 1.1220"


@pytest.fixture
def server():
    with BotApiServer(TOKEN, max_poll_s=0.2) as s:
        yield s


@pytest.fixture
async def bot(companion, server):
    settings = TelegramSettings(allowed_chat_ids=(ME,), base_url=server.url,
                                digest_time_utc="21:00")
    outbox = Outbox(companion.service.channel_store("telegram"), attempts=3, base_delay_s=0.05)
    async with running_bot(companion.service, settings,
                           SecretStr(TOKEN), poll_timeout=0.2, outbox=outbox) as app:
        yield app


async def until(server: BotApiServer, predicate, timeout: float = 10.0):
    return await asyncio.to_thread(server.wait_for, predicate, timeout)


def texts(server: BotApiServer, chat: int = ME, method: str = "sendMessage") -> list[str]:
    return [c.params["text"] for c in server.sent(method) if int(c.params["chat_id"]) == chat]


async def ticket_message(server: BotApiServer):
    """The first message with Approve / Reject buttons, once the bot has sent it."""
    def find():
        return next((c for c in server.sent() if "reply_markup" in c.params), None)
    call = await until(server, find)
    row = call.params["reply_markup"]["inline_keyboard"][0]
    return call, {b["text"]: b["callback_data"] for b in row}


async def test_allowed_chat_price_command_then_answered_with_bid(companion, server, bot):
    server.message(ME, "/price EURUSD")
    (reply,) = await until(server, lambda: texts(server))
    bid = companion.broker.quote("EURUSD").bid
    assert "<b>EURUSD</b>" in reply and f"Bid {bid}".replace(" ", "") in reply.replace(" ", "")


async def test_alert_fired_then_message_sent_to_allowed_chat(companion, server, bot):
    server.message(ME, "/alert EURUSD below 1.1120")
    await until(server, lambda: texts(server))
    assert "tells you once when EURUSD bid crosses below 1.112" in texts(server)[0]
    watcher = AlertWatcher(companion.desk, companion.journal, companion.events)
    for _ in range(6):
        companion.terminal.wrapped.step(1)
        watcher.check()
    pushed = await until(server, lambda: [t for t in texts(server) if "Alert: EURUSD" in t])
    assert "1.11198" in pushed[0] and "EURUSD bid crosses below 1.112" in pushed[0]


async def test_ticket_approved_from_allowed_chat_then_filled_on_paper_and_message_edited(
        companion, server, bot):
    server.message(ME, BUY)
    call, buttons = await ticket_message(server)
    assert set(buttons) == {"Approve", "Reject"} and "NOT sent" in call.params["text"]
    message_id = _sent_id(server, call)
    server.callback(ME, message_id, buttons["Approve"])
    edited = await until(server, lambda: server.sent("editMessageText"))
    assert "Filled" in edited[0].params["text"] and "reply_markup" not in edited[0].params
    assert server.sent("answerCallbackQuery")
    positions = companion.broker.positions()
    assert len(positions) == 1 and positions[0].volume == 0.1
    fills = await until(server, lambda: [t for t in texts(server) if "Order filled" in t])
    assert "BUY 0.10 EURUSD" in fills[0]


async def test_callback_from_another_chat_then_nothing_runs_and_nothing_answers(
        companion, server, bot):
    server.message(ME, BUY)
    call, buttons = await ticket_message(server)
    before = len(server.calls)
    update = server.callback(STRANGER, _sent_id(server, call), buttons["Approve"])
    await asyncio.to_thread(server.wait_acknowledged, update)
    server.message(ME, "/status")  # handled after the stranger's update: a barrier
    await until(server, lambda: [t for t in texts(server) if "Account" in t])
    answered = [c for c in server.calls[before:] if c.method != "getUpdates"
                and (c.method != "sendMessage" or int(c.params["chat_id"]) != ME)]
    assert answered == []
    assert companion.broker.positions() == [] and companion.journal.rows("orders") == []
    assert companion.service.tickets.get(buttons["Approve"].split(":")[2]).status == "pending"


async def test_double_tap_then_one_fill_and_second_refused_politely(companion, server, bot):
    server.message(ME, BUY)
    call, buttons = await ticket_message(server)
    message_id = _sent_id(server, call)
    server.callback(ME, message_id, buttons["Approve"])
    server.callback(ME, message_id, buttons["Approve"])
    refusal = await until(server, lambda: [t for t in texts(server) if "Nothing more" in t])
    assert "no longer waiting" in refusal[0]
    assert len(companion.journal.rows("orders")) == 1 and len(companion.broker.positions()) == 1


async def test_ticket_from_cli_thread_confirmed_on_telegram_then_fill_reported_on_both(
        companion, server, bot):
    proposed = await companion.service.send("cli-1", BUY)
    call, buttons = await ticket_message(server)
    assert proposed.ticket["id"] in buttons["Approve"]
    server.callback(ME, _sent_id(server, call), buttons["Approve"])
    await until(server, lambda: [t for t in texts(server) if "Order filled" in t])
    await until(server, lambda: texts(server, method="editMessageText"))  # resolve returned
    state = await companion.service.graph.aget_state({"configurable": {"thread_id": "cli-1"}})
    assert state.values["messages"][-1].content.startswith("Filled")
    assert companion.journal.get("tickets", proposed.ticket["id"])["resolved_by"] == "telegram"


async def test_ticket_answered_in_web_then_telegram_buttons_removed_and_outcome_shown(
        companion, server, bot):
    proposed = await companion.service.send("web-1", BUY)
    call, _ = await ticket_message(server)
    await companion.service.resolve_ticket(proposed.ticket["id"], "reject", by="web")
    edited = await until(server, lambda: server.sent("editMessageText"))
    assert "Rejected in web" in edited[0].params["text"]
    assert int(edited[0].params["message_id"]) == _sent_id(server, call)


async def test_bot_api_429_then_500_then_message_still_delivered(companion, server, bot):
    server.fail("sendMessage", 429, retry_after=1)
    server.fail("sendMessage", 500)
    companion.events.publish(EventType.RISK_STATE_CHANGED,
                             {"from": "ACTIVE", "trading_state": "HALTED", "reason": "test"})
    delivered = await until(server, lambda: texts(server))
    assert "Trading state: HALTED (test)." in delivered[0]
    statuses = [c.status for c in server.calls if c.method == "sendMessage"]
    assert statuses == [429, 500, 200]


async def test_bot_api_down_for_good_then_message_journaled_as_failed(companion, server, bot):
    server.fail("sendMessage", 500, times=3)
    companion.events.publish(EventType.BROKER_DISCONNECTED, {})

    def failed():
        return companion.journal.rows("events", "type = ?", ["telegram_failed"])
    (row,) = await until(server, failed)
    assert row["payload"]["chat_id"] == ME and "Terminal disconnected" in row["payload"]["text"]
    assert TOKEN not in str(row)


async def test_notify_off_then_event_not_pushed_silent_then_pushed_quietly(
        companion, server, bot):
    server.message(ME, "/notify alert_fired off")
    server.message(ME, "/notify sl_hit silent")
    await until(server, lambda: len(texts(server)) == 2)
    companion.events.publish(EventType.ALERT_FIRED, {"symbol": "EURUSD", "value": 1.1,
                                                     "threshold": 1.2, "rule": "r"})
    companion.events.publish(EventType.SL_HIT, {
        "position": 7, "symbol": "EURUSD", "side": "buy", "volume": 0.1, "price_open": 1.11,
        "price_close": 1.1, "profit": -100.0, "reason": "sl"})
    sl = await until(server, lambda: [c for c in server.sent() if "Stop loss" in
                                      c.params["text"]])
    assert sl[0].params.get("disable_notification") in (True, "true", "True")
    assert not [t for t in texts(server) if "Alert:" in t]


async def test_daily_digest_job_then_pl_summary_sent(companion, server, bot):
    (job,) = bot.job_queue.get_jobs_by_name("daily_digest")
    await job.run(bot)
    (digest,) = await until(server, lambda: texts(server))
    assert "Daily P/L" in digest and "10,000.00 USD" in digest and "ACTIVE" in digest
    assert re.search(r"Closed trades +0\n", digest) and "+0.00 USD" in digest


async def test_token_never_in_logs_or_journal(companion, server, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    settings = TelegramSettings(allowed_chat_ids=(ME,), base_url=server.url)
    async with running_bot(companion.service, settings,
                           SecretStr(TOKEN), poll_timeout=0.2):
        server.message(STRANGER, "secret plan")
        server.message(ME, "/help")
        await until(server, lambda: texts(server))
        logging.getLogger("httpx").warning("request to %s/bot%s/getMe failed", server.url, TOKEN)
    assert TOKEN not in caplog.text and "<bot-token>" in caplog.text
    assert "secret plan" not in caplog.text and "ignored update" in caplog.text
    assert TOKEN not in (tmp_path / "journal.db").read_bytes().decode("latin-1")


def _sent_id(server: BotApiServer, call) -> int:
    """The message id the server answered `call` (a sendMessage) with."""
    return call.result["message_id"]
