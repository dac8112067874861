"""The agent end to end on the paper terminal: tools, risk gate, confirmation, execution."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import ToolMessage

from agent.domain import CompanionError
from agent.graph.prompts import NO_MODEL_HINT
from agent.models.scripted import reply, sequence
from tests.graph.conftest import router_for

BUY = {"symbol": "EURUSD", "side": "buy", "volume": 0.1, "stop_loss": 1.11,
       "take_profit": 1.122}


def answer_from_quote(messages):
    """Call the quote tool, then answer with the bid it returned."""
    results = [m for m in messages if isinstance(m, ToolMessage)]
    if not results:
        return reply("", ("quote", {"symbol": "EURUSD"}))
    bid = json.loads(results[-1].content)["bid"]
    return reply(f"EURUSD bid is {bid}.")


def proposer(order=BUY):
    return sequence([reply("", ("propose_order", order)),
                     reply("The risk engine has decided; see the ticket.")])


def orders(companion):
    return companion.journal.rows("orders")


async def test_data_question_when_model_calls_quote_then_answer_uses_tool_number(
        companion_factory):
    async with companion_factory(answer_from_quote) as c:
        result = await c.service.send("t1", "What is the price of EURUSD?")
        bid = c.broker.quote("EURUSD").bid
    assert result.text == f"EURUSD bid is {bid}."
    assert [t["name"] for t in result.tools] == ["quote", "quote"]  # start and end
    assert result.ticket is None


async def test_order_proposal_when_approved_then_filled_once_on_paper(companion_factory):
    async with companion_factory(proposer()) as c:
        proposed = await c.service.send("t1", "buy 0.1 EURUSD, stop 1.1100, target 1.1220")
        ticket = proposed.ticket
        assert ticket is not None and ticket["order"]["volume"] == 0.1
        assert "NOT been sent" in proposed.tools[-1]["output"]
        assert orders(c) == [] and c.broker.positions() == []

        done = await c.service.resolve_ticket(ticket["id"], "approve", by="test")
        positions = c.broker.positions()
        sent = [o["outcome"] for o in orders(c)]
    assert "Filled" in done.text
    assert len(positions) == 1 and positions[0].volume == 0.1 and positions[0].sl == 1.11
    assert sent == ["filled"]


async def test_decision_provenance_then_request_model_prompt_and_tool_outputs_journaled(
        companion_factory):
    def quote_then_propose(messages):
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if not results:
            return reply("", ("quote", {"symbol": "EURUSD"}))
        if len(results) == 1:
            return reply("", ("propose_order", BUY))
        return reply("Proposed.")

    async with companion_factory(quote_then_propose) as c:
        await c.service.send("t1", "buy 0.1 EURUSD with a stop at 1.1100")
        decision = c.journal.rows("decisions")[0]
    provenance = decision["provenance"]
    assert provenance["request"] == "buy 0.1 EURUSD with a stop at 1.1100"
    assert provenance["model"] == "scripted-0" and len(provenance["prompt_hash"]) == 16
    assert [t["tool"] for t in provenance["tool_outputs"]] == ["quote"]
    assert '"bid"' in provenance["tool_outputs"][0]["output"]


async def test_order_proposal_when_rejected_then_nothing_sent(companion_factory):
    async with companion_factory(proposer()) as c:
        proposed = await c.service.send("t1", "buy 0.1 EURUSD")
        done = await c.service.resolve_ticket(proposed.ticket["id"], "reject", by="test")
        assert "nothing was sent" in done.text
        assert orders(c) == [] and c.broker.positions() == []
        assert c.service.tickets.get(proposed.ticket["id"]).status == "rejected"


async def test_order_without_stop_loss_when_denied_then_model_explains_and_nothing_sent(
        companion_factory):
    no_sl = {k: v for k, v in BUY.items() if k != "stop_loss"}
    async with companion_factory(proposer(no_sl)) as c:
        result = await c.service.send("t1", "buy 0.1 EURUSD now, no stop")
        assert result.ticket is None
        denial = next(t for t in result.tools if t["kind"] == "tool_end")
        assert denial["output"].startswith("DENIED")
        assert orders(c) == [] and c.broker.positions() == []
        decision = c.journal.rows("decisions")[0]
        assert decision["approved"] == 0
        assert "stop_loss_required" in {v["code"] for v in decision["verdicts"]
                                        if not v["passed"]}


async def test_ticket_when_approved_twice_then_second_refused_one_fill(companion_factory):
    async with companion_factory(proposer()) as c:
        ticket = (await c.service.send("t1", "buy 0.1 EURUSD, stop 1.1100, target 1.1220")).ticket
        await c.service.resolve_ticket(ticket["id"], "approve", by="web")
        with pytest.raises(CompanionError) as info:
            await c.service.resolve_ticket(ticket["id"], "approve", by="telegram")
        assert info.value.code == "ticket_claimed" or info.value.code.startswith("ticket_")
        assert len(orders(c)) == 1 and len(c.broker.positions()) == 1


async def test_ticket_when_expired_then_refused_and_nothing_sent(companion_factory, clock):
    async with companion_factory(proposer()) as c:
        ticket = (await c.service.send("t1", "buy 0.1 EURUSD, stop 1.1100, target 1.1220")).ticket
        clock.advance(c.settings.risk.ticket_ttl_seconds + 1)
        done = await c.service.resolve_ticket(ticket["id"], "approve", by="test")
        assert "not executed" in done.text and "expired" in done.text
        assert orders(c) == [] and c.broker.positions() == []


async def test_ticket_when_order_tampered_in_journal_then_refused(companion_factory):
    async with companion_factory(proposer()) as c:
        ticket = (await c.service.send("t1", "buy 0.1 EURUSD, stop 1.1100, target 1.1220")).ticket
        row = c.journal.get("tickets", ticket["id"])
        c.journal.update("tickets", ticket["id"], {"order": {**row["order"], "volume": 5.0}})
        done = await c.service.resolve_ticket(ticket["id"], "approve", by="test")
        assert "not executed" in done.text
        assert orders(c) == [] and c.broker.positions() == []


async def test_restart_between_interrupt_and_resume_then_ticket_still_confirmable(
        companion_factory):
    async with companion_factory(proposer()) as c:
        ticket = (await c.service.send("t1", "buy 0.1 EURUSD, stop 1.1100, target 1.1220")).ticket
    async with companion_factory(proposer()) as again:  # a new process, same files
        assert [t["id"] for t in await again.service.pending_tickets()] == [ticket["id"]]
        done = await again.service.resolve_ticket(ticket["id"], "approve", by="test")
        assert "Filled" in done.text and len(again.broker.positions()) == 1


async def test_model_error_when_first_model_fails_then_fallback_answers(companion_factory):
    def broken(messages):
        raise ConnectionError("model server down")

    async with companion_factory(router=router_for(broken, answer_from_quote)) as c:
        result = await c.service.send("t1", "price of EURUSD?")
    assert result.text.startswith("EURUSD bid is ")


async def test_no_model_when_plain_text_then_hint_and_commands_still_work(companion_factory):
    async with companion_factory(router=router_for()) as c:
        hint = await c.service.send("t1", "how does EURUSD look?")
        price = await c.service.send("t1", "/price EURUSD")
        bad = await c.service.send("t1", "/buy EURUSD -1")
    assert hint.text == NO_MODEL_HINT
    assert price.text.startswith("EURUSD: bid ")
    assert bad.text.startswith("Usage: /buy")


async def test_command_buy_without_model_then_same_gate_and_confirmation(companion_factory):
    async with companion_factory(router=router_for()) as c:
        proposed = await c.service.send("t1", "/buy EURUSD 0.1 sl 1.1100 tp 1.1220")
        assert proposed.ticket is not None
        done = await c.service.resolve_ticket(proposed.ticket["id"], "approve", by="cli")
        denied = await c.service.send("t2", "/buy EURUSD 0.1")
        held = c.broker.positions()
    assert "Filled" in done.text
    assert denied.ticket is None and denied.text.startswith("DENIED")
    assert len(held) == 1


async def test_new_message_while_ticket_pending_then_refused_until_answered(companion_factory):
    async with companion_factory(router=router_for()) as c:
        await c.service.send("t1", "/buy EURUSD 0.1 sl 1.1100")
        with pytest.raises(CompanionError) as info:
            await c.service.send("t1", "/price EURUSD")
    assert info.value.code == "ticket_pending"


async def test_tool_error_when_analysis_impossible_then_model_reads_it_and_answers(
        companion_factory):
    def analyze_d1_then_explain(messages):
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if not results:
            return reply("", ("analyze", {"symbol": "EURUSD", "timeframe": "W1"}))
        return reply(f"I could not analyze that: {results[-1].content}")

    async with companion_factory(analyze_d1_then_explain) as c:
        result = await c.service.send("t1", "analyze EURUSD weekly")
    assert result.text.startswith("I could not analyze that: Error: ")
    assert "bars" in result.text


async def test_tool_call_with_bad_arguments_then_model_gets_validation_error(companion_factory):
    def bad_then_fixed(messages):
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if not results:
            return reply("", ("quote", {"symbol": "not a symbol!"}))
        if len(results) == 1:
            return reply("", ("quote", {"symbol": "EURUSD"}))
        return reply("fixed: " + str(json.loads(results[-1].content)["bid"]))

    async with companion_factory(bad_then_fixed) as c:
        result = await c.service.send("t1", "price of EURUSD or GBPUSD?")
        first_error = [t for t in result.tools if t["kind"] == "tool_end"][0]["output"]
    assert result.text.startswith("fixed: 1.1")
    assert "symbol" in first_error


async def test_ticket_when_send_returns_then_interrupt_already_durable_for_other_processes(
        companion_factory):
    async with companion_factory(router=router_for()) as c:
        ticket = (await c.service.send("t1", "/buy EURUSD 0.1 sl 1.1100")).ticket
        async with companion_factory(router=router_for()) as other:  # still running: no exit
            done = await other.service.resolve_ticket(ticket["id"], "approve", by="other")
            assert "Filled" in done.text
