"""The execute step's trade-management paths one by one: a close-all or a trailing-stop ticket
left claimed by a dead process is settled at the next start (sent parts recorded, nothing
re-sent; nothing sent -> failed); a close the terminal refuses is reported and the others still
sent; a trailing move the risk engine or the broker refuses is not recorded as a move; the
trailing job outlives one bad rule, starts once and stops."""

from __future__ import annotations

import asyncio
import socket

import pytest

from agent.domain import CompanionError, OrderOutcome, OrderResult
from agent.risk.checks import RiskCode, Verdict
from agent.risk.tickets import CLAIMS
from agent.risk.trails import TrailBook
from agent.trailing_job import TrailingJob
from tests.graph.test_trade_management import open_buy

THREAD = "t-exec"
DEAD = {"host": socket.gethostname(), "pid": 2**22 + 7, "started": 0.0}


async def two_positions(companion):
    first = await open_buy(companion, "t-a")
    q = companion.broker.quote("EURUSD")
    sold = await companion.service.send("t-b", f"/sell EURUSD 0.02 sl {q.ask + 0.004:.5f}")
    await companion.service.resolve_ticket(sold.ticket["id"], "approve", by="test")
    return first, next(p for p in companion.broker.positions() if p.ticket != first.ticket)


def claim_and_die(companion, ticket_id: str):
    """The ticket claimed by a process that is gone."""
    book = companion.service.tickets
    ticket = book.claim(ticket_id, now=companion.desk.clock(), by="test")
    companion.journal.kv_set(CLAIMS, ticket_id, DEAD)
    return ticket


async def test_close_all_left_claimed_with_nothing_sent_then_failed(companion):
    await two_positions(companion)
    reply = await companion.service.propose_close_all(THREAD)
    claim_and_die(companion, reply.ticket["id"])
    notices = companion.deps.executor.recover_claimed()
    assert len(notices) == 1 and "nothing was sent" in notices[0]
    assert companion.service.tickets.get(reply.ticket["id"]).status == "failed"
    assert len(companion.broker.positions()) == 2


@pytest.mark.parametrize("row_written", [False, True])
async def test_close_all_left_claimed_after_one_close_then_recorded_once_and_rest_not_sent(
        companion, row_written):
    await two_positions(companion)
    reply = await companion.service.propose_close_all(THREAD)
    ticket = claim_and_die(companion, reply.ticket["id"])
    leg = ticket.order.legs[0]
    sent = companion.deps.executor._sender.close(  # what the dead process sent
        leg.position_ticket, leg.volume, idempotency_key=f"{ticket.idempotency_key}-1",
        price_bound=None)
    assert sent.outcome is OrderOutcome.FILLED
    if row_written:  # it died after journaling the close, before marking the ticket
        companion.deps.executor._insert_order(ticket, sent, companion.desk.clock(), request=leg)
    (notice,) = companion.deps.executor.recover_claimed()
    assert f"closed #{leg.position_ticket}; the other closes were not sent" in notice
    assert companion.service.tickets.get(ticket.id).status == "sent"
    assert [p.ticket for p in companion.broker.positions()] == [
        ticket.order.legs[1].position_ticket]
    assert len(companion.journal.rows("orders", "ticket_id = ?", [ticket.id])) == 1
    assert companion.deps.executor.recover_claimed() == []  # settled: never again


async def test_close_all_left_claimed_when_terminal_unsearchable_then_stays_claimed(
        companion, monkeypatch):
    await two_positions(companion)
    reply = await companion.service.propose_close_all(THREAD)
    claim_and_die(companion, reply.ticket["id"])
    sender = companion.deps.executor._sender
    unknown = OrderResult(OrderOutcome.REJECTED, 0, "cannot search", "k")
    monkeypatch.setattr(sender, "find", lambda *a, **k: unknown)
    assert companion.deps.executor.recover_claimed() == []

    def raising(*a, **k):
        raise CompanionError("unknown_symbol", "gone")
    monkeypatch.setattr(sender, "find", raising)
    assert companion.deps.executor.recover_claimed() == []
    assert companion.service.tickets.get(reply.ticket["id"]).status == "claimed"


async def test_trail_left_claimed_then_sent_when_its_rule_started_else_failed(companion):
    pos = await open_buy(companion)
    first = await companion.service.propose_trail(THREAD, pos.ticket, 10)
    ticket = claim_and_die(companion, first.ticket["id"])
    TrailBook(companion.journal).start(ticket, now=companion.desk.clock())
    (notice,) = companion.deps.executor.recover_claimed()
    assert "trailing stop on" in notice and companion.service.tickets.get(
        ticket.id).status == "sent"

    second = await companion.service.propose_trail("t-other", pos.ticket, 12)
    claim_and_die(companion, second.ticket["id"])
    (notice,) = companion.deps.executor.recover_claimed()
    assert "nothing was sent" in notice
    assert companion.service.tickets.get(second.ticket["id"]).status == "failed"


async def test_close_all_when_the_terminal_refuses_one_close_then_reported_others_closed(
        companion, monkeypatch):
    first, second = await two_positions(companion)
    reply = await companion.service.propose_close_all(THREAD)
    sender = companion.deps.executor._sender
    real = sender.close

    def close(ticket, volume, **kw):
        if ticket == first.ticket:
            raise CompanionError("bad_volume", "Position holds less; cannot close it.")
        return real(ticket, volume, **kw)
    monkeypatch.setattr(sender, "close", close)
    done = await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="test")
    assert done.text.startswith("Closed 1 of 2 positions.")
    assert f"#{first.ticket} EURUSD: not closed: Position holds less" in done.text
    assert [p.ticket for p in companion.broker.positions()] == [first.ticket]
    (row,) = [r for r in companion.journal.rows("orders", "ticket_id = ?", [reply.ticket["id"]])
              if r["outcome"] == "rejected"]
    assert row["idempotency_key"].endswith("-1" if first.ticket < second.ticket else "-2")


async def test_close_all_when_every_close_is_refused_at_the_recheck_then_blocked(companion):
    first, second = await two_positions(companion)
    reply = await companion.service.propose_close_all(THREAD)
    for pos in (first, second):
        proposed = await companion.service.propose_close(f"t-{pos.ticket}", pos.ticket)
        await companion.service.resolve_ticket(proposed.ticket["id"], "approve", by="test")
    done = await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="test")
    assert done.text.startswith("Closed 0 of 2 positions.")
    assert companion.service.tickets.get(reply.ticket["id"]).status == "blocked"


async def started_trail(companion):
    pos = await open_buy(companion)
    reply = await companion.service.propose_trail(THREAD, pos.ticket, 10)
    await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="test")
    (rule,) = companion.deps.executor.trails.active()
    return pos, rule


async def test_trail_move_when_the_risk_engine_refuses_then_nothing_sent(companion,
                                                                         monkeypatch):
    pos, rule = await started_trail(companion)
    executor = companion.deps.executor
    real = executor._desk.evaluate
    denial = Verdict(RiskCode.BROKER_CONNECTED, False, "The terminal is not connected.", {})
    monkeypatch.setattr(executor._desk, "evaluate",
                        lambda intent: real(intent)._replace(verdicts=(denial,)))
    assert executor.trail(rule) is None
    assert companion.broker.positions()[0].sl == pos.sl
    assert executor.trails.get(pos.ticket).attempts == 0


async def test_trail_move_when_the_broker_refuses_then_rejected_event_and_no_move(
        companion, monkeypatch):
    pos, rule = await started_trail(companion)
    executor = companion.deps.executor
    events = companion.events.subscribe()
    monkeypatch.setattr(executor._sender, "modify", lambda intent, idempotency_key: OrderResult(
        OrderOutcome.REJECTED, 10016, "Invalid stops.", idempotency_key))
    move = executor.trail(rule)
    assert move["outcome"] == "rejected"
    now = executor.trails.get(pos.ticket)
    assert (now.attempts, now.moves) == (1, 0)
    await asyncio.sleep(0)
    kinds = [events.queue.get_nowait().type.value for _ in range(events.queue.qsize())]
    assert "order_rejected" in kinds and "trail_moved" not in kinds
    events.close()


async def test_trailing_job_when_one_rule_fails_then_others_still_step(companion, monkeypatch):
    _, rule = await started_trail(companion)
    executor = companion.deps.executor
    calls = []

    def trail(r):
        calls.append(r.position)
        raise RuntimeError("terminal hiccup")
    monkeypatch.setattr(executor, "trail", trail)
    assert TrailingJob(executor).step() == [] and calls == [rule.position]


async def test_trailing_job_runs_once_on_start_and_stops(companion):
    job = TrailingJob(companion.deps.executor, poll_s=0.01)
    task = job.start()
    assert job.start() is task
    await asyncio.sleep(0.05)
    await job.stop()
    assert task.cancelled() or task.done()
    await job.stop()  # stopping a stopped job is harmless


def test_trail_book_when_the_ticket_is_not_a_trail_then_refused(companion):
    from tests.risk.builders import close
    from tests.risk.test_manage_rules import LONG, decide
    decision = decide(close(LONG))
    ticket = companion.service.tickets.mint(decision, decision.intent, thread_id="t",
                                            now=companion.desk.clock())
    with pytest.raises(CompanionError):
        TrailBook(companion.journal).start(ticket, now=companion.desk.clock())


async def test_close_when_the_history_lacks_the_deal_then_filled_without_a_pnl(
        companion, monkeypatch):
    pos = await open_buy(companion)
    reply = await companion.service.propose_close(THREAD, pos.ticket)
    monkeypatch.setattr(companion.desk.broker, "history", lambda since, until: [])
    done = await companion.service.resolve_ticket(reply.ticket["id"], "approve", by="test")
    assert done.text.startswith("Filled: ticket") and "P/L" not in done.text
    assert companion.broker.positions() == []
