"""The bot in an allowed group (issue #15 item 8): only telegram.allowed_user_ids may press
Approve, halt or ask there; any other member's update runs nothing and gets no answer. With no
allowed users, the bot answers nobody in a group, and private chats work as before."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import SecretStr

from agent.config import TelegramSettings
from channels.telegram.bot import running_bot
from channels.telegram.outbox import Outbox
from tests.channels.test_telegram_flows import BUY, ME, STRANGER, TOKEN, _sent_id, texts, until
from tests.support.bot_api_server import BotApiServer

pytestmark = pytest.mark.slow

GROUP = -100200300


@pytest.fixture
def server():
    with BotApiServer(TOKEN, max_poll_s=0.2) as s:
        yield s


def group_bot(companion, server, *users: int):
    settings = TelegramSettings(allowed_chat_ids=(ME, GROUP), allowed_user_ids=users,
                                base_url=server.url)
    return running_bot(companion.service, settings,
                       SecretStr(TOKEN), poll_timeout=0.2,
                       outbox=Outbox(companion.service.channel_store("telegram"), attempts=3,
                                     base_delay_s=0.05))


async def group_ticket(server: BotApiServer) -> tuple[int, dict[str, str]]:
    """The ticket message the bot pushed to the group: (message id, button -> callback data)."""
    def find():
        return next((c for c in server.sent() if "reply_markup" in c.params
                     and int(c.params["chat_id"]) == GROUP), None)
    call = await until(server, find)
    row = call.params["reply_markup"]["inline_keyboard"][0]
    return _sent_id(server, call), {b["text"]: b["callback_data"] for b in row}


async def barrier(server: BotApiServer, update_id: int) -> None:
    """Until the bot has taken `update_id` and handled a later private /status."""
    await asyncio.to_thread(server.wait_acknowledged, update_id)

    def statuses() -> int:
        return sum("Account" in t for t in texts(server))
    before = statuses()
    server.message(ME, "/status")
    await until(server, lambda: statuses() > before)


async def test_group_member_not_allowed_when_pressing_approve_or_halting_then_nothing_runs(
        companion, server, caplog):
    caplog.set_level(logging.WARNING, logger="channels.telegram.bot")
    async with group_bot(companion, server, ME):
        server.message(ME, BUY)
        message_id, buttons = await group_ticket(server)
        ticket_id = buttons["Approve"].split(":")[2]
        before = len(server.calls)
        server.callback(GROUP, message_id, buttons["Approve"], user=STRANGER)
        server.message(GROUP, "/halt", user=STRANGER)
        last = server.message(GROUP, BUY, user=STRANGER)
        await barrier(server, last)
        answered = [c for c in server.calls[before:] if c.method != "getUpdates"
                    and int(c.params.get("chat_id", ME)) != ME]
        assert answered == []
        assert companion.service.tickets.get(ticket_id).status == "pending"
        assert companion.broker.positions() == [] and companion.journal.rows("orders") == []
        assert companion.desk.risk_state.current().trading_state.value == "ACTIVE"
        assert len(await companion.service.pending_tickets()) == 1
        assert f"from user {STRANGER} in group {GROUP}" in caplog.text

        server.callback(GROUP, message_id, buttons["Approve"], user=ME)  # the trader, in the group
        edited = await until(server, lambda: server.sent("editMessageText"))
    assert "Filled" in edited[0].params["text"] and len(companion.broker.positions()) == 1


async def test_group_when_no_allowed_users_then_nobody_there_is_answered_but_private_chat_is(
        companion, server, caplog):
    caplog.set_level(logging.WARNING, logger="channels.telegram.bot")
    async with group_bot(companion, server):
        server.message(ME, BUY)
        message_id, buttons = await group_ticket(server)
        pressed = server.callback(GROUP, message_id, buttons["Approve"], user=ME)
        await barrier(server, pressed)
        in_group = [c for c in server.sent() if int(c.params["chat_id"]) == GROUP
                    and "reply_markup" not in c.params]
        pending = await companion.service.pending_tickets()
    assert in_group == [] and server.sent("editMessageText") == []
    assert [t["id"] for t in pending] == [buttons["Approve"].split(":")[2]]
    assert companion.broker.positions() == []
    assert "nobody in that group will be answered" in caplog.text
