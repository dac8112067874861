"""A process killed between claiming a ticket and recording its send (issue 15, item 4).

At the next start every ticket left `claimed` is looked up at the terminal by its idempotency
key: sent -> recorded as a send records it (order row, `sent`, order-rate count, fill event);
not sent -> `failed`, with a message in every channel and a re-approval that says nothing was
sent. The kills are real: a child process dies with os._exit right before the send, or right
after it, on the same data folder.
"""

from __future__ import annotations

import asyncio
import html
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from agent.app import open_companion
from agent.broker.sender import OrderSender
from agent.domain import CompanionError, OrderOutcome, OrderResult
from agent.events import EventType
from agent.graph.execute import Executor
from agent.graph.routing import StaticRouter
from agent.risk.tickets import CLAIMS, TicketBook
from channels.telegram import formatting as telegram
from channels.web import cards

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import asyncio, os, sys
    from agent.app import open_companion
    from agent.broker.sender import OrderSender
    from agent.config import PaperSettings, Settings
    from agent.graph.execute import Executor
    from agent.graph.routing import StaticRouter

    if sys.argv[2] == "before_send":
        OrderSender.send = lambda *args, **kwargs: os._exit(137)
    else:  # after the terminal filled it, before anything was recorded
        Executor._record = lambda *args, **kwargs: os._exit(137)

    async def main():
        settings = Settings(data_dir=sys.argv[1], paper=PaperSettings(speed=0))
        async with open_companion(settings, router=StaticRouter()) as companion:
            bid = companion.desk.quote("EURUSD").bid
            reply = await companion.service.send("t-crash",
                                                 f"/buy EURUSD 0.10 sl {bid - 0.004:.5f}")
            print(reply.ticket["id"], flush=True)
            await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="cli")
        os._exit(0)  # not reached

    asyncio.run(main())
""")


def killed(settings, moment: str) -> str:
    """Run a companion that mints a ticket, approves it and dies at `moment`; its ticket id."""
    child = subprocess.run([sys.executable, "-c", CHILD, str(settings.data_dir), moment],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert child.returncode == 137, child.stderr
    return child.stdout.split()[-1]


def events_of(journal, type_: EventType, ticket_id: str) -> list[dict]:
    return [e["payload"] for e in journal.rows("events", "type = ?", [type_.value])
            if e["payload"].get("ticket_id") == ticket_id]


async def test_killed_before_send_then_failed_at_restart_and_everyone_told_nothing_was_sent(
        settings):
    ticket_id = killed(settings, "before_send")
    async with open_companion(settings, router=StaticRouter()) as companion:
        heard = companion.events.subscribe()  # a channel starting after the companion opened
        journal = companion.journal
        ticket = companion.service.tickets.get(ticket_id)
        assert ticket.status == "failed"
        assert journal.rows("orders", "ticket_id = ?", [ticket_id]) == []
        assert companion.desk.positions() == []
        assert not journal.kv_get("risk", "orders")  # no order counted against the rate
        [notice] = companion.recovered
        assert ticket_id in notice and "nothing was sent" in notice
        [told] = events_of(journal, EventType.ORDER_REJECTED, ticket_id)
        assert told["outcome"] == "not_sent" and told["message"] == notice
        event = await asyncio.wait_for(heard.get(), 5)
        assert event.type is EventType.ORDER_REJECTED and event.payload == told
        assert html.escape(notice) in telegram.event(event)  # what the bot pushes
        assert cards.resolution(event.type.value, event.payload).endswith(notice + "**")
        assert "nothing was sent" in cards.SWEPT["failed"]  # a web card left on the page
        again = await companion.service.resolve_ticket(ticket_id, "approve", by="telegram")
        assert "nothing was sent" in again.text
        assert companion.desk.positions() == []  # re-approving sent nothing either
        with pytest.raises(CompanionError) as refused:  # the thread no longer waits on it
            await companion.service.resolve_ticket(ticket_id, "approve", by="web")
        assert refused.value.code == "ticket_failed" and "nothing was sent" in str(refused.value)


async def test_killed_after_send_then_recorded_as_sent_at_restart(settings):
    ticket_id = killed(settings, "after_send")
    async with open_companion(settings, router=StaticRouter()) as companion:
        heard = companion.events.subscribe([EventType.ORDER_FILLED])
        journal = companion.journal
        assert companion.service.tickets.get(ticket_id).status == "sent"
        [row] = journal.rows("orders", "ticket_id = ?", [ticket_id])
        [position] = companion.desk.positions()  # filled once, never again
        assert row["outcome"] == "filled" and row["reconciled"] == 1
        assert row["position"] == position.ticket and row["volume"] == 0.1
        claimed_at = datetime.fromisoformat(journal.get("tickets", ticket_id)["resolved_at"])
        assert datetime.fromisoformat(row["created_at"]) == claimed_at
        rate = journal.kv_get("risk", "orders")  # the order-rate count, at the time it was sent
        assert [datetime.fromisoformat(t) for t in rate] == [claimed_at]
        [filled] = events_of(journal, EventType.ORDER_FILLED, ticket_id)
        assert filled["volume"] == 0.1 and filled["price"] == position.price_open
        assert (await asyncio.wait_for(heard.get(), 5)).payload == filled
        assert ticket_id in companion.recovered[0]
        again = await companion.service.resolve_ticket(ticket_id, "approve", by="cli")
        assert "already used" in again.text and len(companion.desk.positions()) == 1
    async with open_companion(settings, router=StaticRouter()) as companion:
        assert companion.recovered == []  # settled once
        assert journal_claim(companion, ticket_id)["pid"] > 0


def journal_claim(companion, ticket_id: str) -> dict:
    return companion.journal.kv_get(CLAIMS, ticket_id)


# -- the same, in one process, for each way the terminal can answer -----------------------------

async def left_claimed(companion) -> object:
    """A pending ticket, claimed by a process that is gone (as after a kill)."""
    bid = companion.desk.quote("EURUSD").bid
    reply = await companion.service.send("t-left", f"/buy EURUSD 0.10 sl {bid - 0.004:.5f}")
    tickets = companion.service.tickets
    ticket = tickets.claim(reply.ticket["id"], now=companion.desk.clock(), by="cli")
    noted = companion.journal.kv_get(CLAIMS, ticket.id)
    companion.journal.kv_set(CLAIMS, ticket.id, {**noted, "started": 0.0})  # not this process
    return ticket


def sent_by_the_dead_process(companion, ticket):
    """What the killed process did before dying: the send itself."""
    return companion.deps.executor._sender.send(ticket.intent,
                                                idempotency_key=ticket.idempotency_key,
                                                price_bound=ticket.price_bound)


async def test_recover_when_terminal_cannot_be_searched_then_left_claimed_for_next_start(
        companion, monkeypatch, caplog):
    ticket = await left_claimed(companion)
    unsearchable = OrderResult(OrderOutcome.REJECTED, 0, "Could not check the terminal.",
                               ticket.idempotency_key)
    monkeypatch.setattr(OrderSender, "find", lambda self, intent, **kw: unsearchable)
    assert companion.deps.executor.recover_claimed() == []
    assert companion.service.tickets.get(ticket.id).status == "claimed"
    assert "stays claimed" in caplog.text

    def unknown(self, intent, **kw):
        raise CompanionError("unknown_symbol", "'EURUSD' is not a symbol this terminal knows.")

    monkeypatch.setattr(OrderSender, "find", unknown)
    assert companion.deps.executor.recover_claimed() == []
    assert companion.service.tickets.get(ticket.id).status == "claimed"


async def test_recover_when_another_process_settled_it_first_then_nothing_said_twice(
        companion, monkeypatch):
    ticket = await left_claimed(companion)
    monkeypatch.setattr(TicketBook, "mark_failed", lambda self, ticket_id, message: False)
    assert companion.deps.executor.recover_claimed() == []
    assert companion.journal.rows("events", "type = ?", ["order_rejected"]) == []


async def test_recover_when_sent_and_its_order_row_written_then_row_kept_and_ticket_sent(
        companion):
    ticket = await left_claimed(companion)
    result = sent_by_the_dead_process(companion, ticket)
    companion.deps.executor._insert_order(ticket, result, companion.desk.clock())  # then died

    [notice] = companion.deps.executor.recover_claimed()

    assert ticket.id in notice
    assert len(companion.journal.rows("orders", "ticket_id = ?", [ticket.id])) == 1
    assert companion.service.tickets.get(ticket.id).status == "sent"


async def test_recover_when_two_processes_record_the_same_send_then_one_row_one_event(
        companion, monkeypatch):
    ticket = await left_claimed(companion)
    sent_by_the_dead_process(companion, ticket)
    rows = companion.journal.rows
    monkeypatch.setattr(companion.journal, "rows", lambda table, *args, **kwargs: [] if (
        table == "orders") else rows(table, *args, **kwargs))  # both saw no order row yet
    companion.deps.executor._insert_order(ticket, OrderResult(
        OrderOutcome.FILLED, 0, "the other process", ticket.idempotency_key),
        companion.desk.clock())  # the other process wins the row
    assert companion.deps.executor.recover_claimed() == []
    monkeypatch.undo()
    assert len(companion.journal.rows("orders", "ticket_id = ?", [ticket.id])) == 1
    assert companion.journal.rows("events", "type = ?", ["order_filled"]) == []


async def test_open_when_settling_claimed_tickets_fails_then_the_companion_still_opens(
        settings, monkeypatch, caplog):
    def broken(self):
        raise ConnectionError("terminal gone")

    monkeypatch.setattr(Executor, "recover_claimed", broken)
    async with open_companion(settings, router=StaticRouter()) as companion:
        assert companion.recovered == []
    assert "could not settle the tickets left claimed" in caplog.text
