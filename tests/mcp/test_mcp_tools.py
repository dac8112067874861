"""The MCP tools, resources and prompts through the SDK's own client (in process): read, propose,
follow the ticket; the trader approves elsewhere; bad input is one sentence and changes nothing."""

from __future__ import annotations

import math
import re

import pytest

from agent.domain import CompanionError
from agent.tools.jsonable import to_jsonable
from channels.mcp.resources import CONFIRMATION
from channels.mcp.tools import SYMBOL_PATTERN, TRADING_TOOLS
from tests.mcp.conftest import ORDER, state_of, text

READ_TOOLS = {"quote", "bars", "analyze", "sentiment", "account", "positions", "orders",
              "history", "profit", "daily", "size_position", "alerts", "pending_tickets",
              "ticket_status", "trails"}
PROPOSALS = {"propose_order", "close_position", "close_all", "modify_position", "modify_order",
             "cancel_order", "breakeven", "trail_stop"}
FORBIDDEN = re.compile(r"approve|confirm|reject|resolve|send|execute|decision", re.IGNORECASE)


async def test_tools_when_listed_then_read_and_propose_only(mcp):
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert set(tools) == READ_TOOLS | TRADING_TOOLS
    assert PROPOSALS <= TRADING_TOOLS
    for name, tool in tools.items():
        assert not FORBIDDEN.search(name), name
        assert not any(FORBIDDEN.search(p) for p in tool.inputSchema.get("properties", {})), name
        assert tool.annotations.readOnlyHint is (name in READ_TOOLS), name
    for name in PROPOSALS:
        assert "not sent" in tools[name].description.lower() or \
            "not removed" in tools[name].description.lower(), name


async def test_quote_then_the_service_numbers(mcp, companion):
    result = await mcp.call_tool("quote", {"symbol": "eurusd"})
    assert not result.isError
    assert result.structuredContent == to_jsonable(await companion.service.quote("EURUSD"))


async def test_propose_then_pending_nothing_sent_and_the_fill_visible_once_approved(mcp,
                                                                                    companion):
    result = await mcp.call_tool("propose_order", ORDER)
    proposal = result.structuredContent
    assert not result.isError and proposal["approved"] and proposal["status"] == "pending"
    assert {v["code"] for v in proposal["verdicts"]} >= {"stop_loss_required", "risk_per_trade"}
    assert all(v["passed"] for v in proposal["verdicts"])
    ticket_id = proposal["ticket_id"]
    assert ticket_id in proposal["message"] and "Nothing has been sent" in proposal["message"]
    assert (await mcp.call_tool("positions", {})).structuredContent == {"positions": []}
    status = (await mcp.call_tool("ticket_status", {"ticket_id": ticket_id})).structuredContent
    assert status["status"] == "pending" and status["result"] is None

    await companion.service.resolve_ticket(ticket_id, "approve", by="cli")  # the trader

    status = (await mcp.call_tool("ticket_status", {"ticket_id": ticket_id})).structuredContent
    assert status["status"] == "sent" and status["result"]["result"]["status"] == "filled"
    held = (await mcp.call_tool("positions", {})).structuredContent["positions"]
    assert [(p["symbol"], p["volume"], p["sl"]) for p in held] == [("EURUSD", 0.1, 1.11)]


async def test_approve_tools_when_called_then_unknown_and_the_ticket_still_waits(mcp, companion):
    ticket_id = (await mcp.call_tool("propose_order", ORDER)).structuredContent["ticket_id"]
    for name in ("approve_ticket", "confirm_ticket", "resolve_ticket", "send_order"):
        result = await mcp.call_tool(name, {"ticket_id": ticket_id, "decision": "approve"})
        assert result.isError and text(result) == f"Unknown tool: {name}."
    assert companion.service.tickets.get(ticket_id).status == "pending"
    assert companion.broker.positions() == []


async def test_unknown_symbol_then_the_same_sentence_as_the_service(mcp, companion):
    with pytest.raises(CompanionError) as refused:
        await companion.service.quote("FOOBAR")
    result = await mcp.call_tool("quote", {"symbol": "FOOBAR"})
    assert result.isError and text(result) == refused.value.message
    assert result.structuredContent == {"code": "unknown_symbol",
                                        "message": refused.value.message}


async def test_proposals_denied_then_the_chat_sentence_every_verdict_and_nothing_changed(
        mcp, companion):
    for args, chat, failed in (
            ({**ORDER, "symbol": "FOOBAR"}, "/buy FOOBAR 0.1 sl 1.11 tp 1.122",
             ["unknown_symbol"]),
            ({"symbol": "EURUSD", "side": "buy", "volume": 0.1}, "/buy EURUSD 0.1",
             ["stop_loss_required"])):
        before = state_of(companion)
        result = await mcp.call_tool("propose_order", args)
        assert state_of(companion) == before
        said = (await companion.service.send(f"chat-{args['symbol']}", chat)).text
        assert result.isError and text(result) == said
        assert result.structuredContent["code"] == "risk_denied"
        verdicts = result.structuredContent["decision"]["verdicts"]
        assert [v["code"] for v in verdicts if not v["passed"]] == failed
    assert len(verdicts) > 10  # every rule's verdict, passed or not
    assert said.endswith("Every order needs a stop-loss; add one.")


@pytest.mark.parametrize("args, sentence", [
    ({**ORDER, "volume": "nan"}, "volume: Input should be a finite number."),
    ({**ORDER, "volume": math.inf}, "volume: Input should be a valid number."),  # sent as null
    ({**ORDER, "volume": -1}, "volume: Input should be greater than 0."),
    ({**ORDER, "side": "long"}, "side: Input should be 'buy' or 'sell'."),
    ({**ORDER, "symbol": "EUR USD"},
     f"symbol: String should match pattern '{SYMBOL_PATTERN}'."),
    ({"symbol": "EURUSD", "side": "buy"}, "volume: Field required."),
])
async def test_invalid_arguments_then_one_sentence_naming_the_field(mcp, companion, args,
                                                                    sentence):
    before = state_of(companion)
    result = await mcp.call_tool("propose_order", args)
    assert result.isError and text(result) == sentence
    assert result.structuredContent == {"code": "invalid_request", "message": sentence}
    assert state_of(companion) == before


async def test_manage_tools_when_nothing_held_then_refused_and_nothing_changed(mcp, companion):
    before = state_of(companion)
    cases = [("close_position", {"position": 99}, "There is no open position #99."),
             ("modify_position", {"position": 99, "stop_loss": 1.1},
              "There is no open position #99."),
             ("breakeven", {"position": 99}, "There is no open position #99."),
             ("trail_stop", {"position": 99, "distance": 20}, "There is no open position #99."),
             ("stop_trail", {"position": 99}, "Position #99 has no trailing stop."),
             ("close_all", {}, "There is no open position to close."),
             ("modify_order", {"order": 99, "price": 1.1}, "There is no pending order #99."),
             ("modify_order", {"order": 99},
              "Say the order's new price, stop-loss or take-profit."),
             ("cancel_order", {"order": 99}, "There is no pending order #99.")]
    for name, args, sentence in cases:
        result = await mcp.call_tool(name, args)
        assert result.isError and text(result) == sentence, name
    result = await mcp.call_tool("modify_position", {"position": 99, "stop_loss": 1.1,
                                                     "remove_stop_loss": True})
    assert text(result) == "Give a new stop-loss or remove it, not both."
    assert state_of(companion) == before


async def test_close_and_modify_when_a_position_is_held_then_tickets_wait(mcp, companion):
    ticket_id = (await mcp.call_tool("propose_order", ORDER)).structuredContent["ticket_id"]
    await companion.service.resolve_ticket(ticket_id, "approve", by="web")
    (position,) = (await mcp.call_tool("positions", {})).structuredContent["positions"]
    modify = await mcp.call_tool("modify_position", {"position": position["ticket"],
                                                     "stop_loss": 1.112,
                                                     "remove_take_profit": True})
    assert not modify.isError, text(modify)
    assert modify.structuredContent["order"] | {"sl": 1.112, "tp": None} == \
        modify.structuredContent["order"]
    close = await mcp.call_tool("close_position", {"position": position["ticket"],
                                                   "volume": 0.05})
    assert not close.isError and close.structuredContent["order"]["kind"] == "close"
    others = [await mcp.call_tool(name, args) for name, args in (
        ("trail_stop", {"position": position["ticket"], "distance": 15}),
        ("close_all", {"symbol": "EURUSD"}))]
    assert [r.structuredContent["order"]["kind"] for r in others] == ["trail", "close_all"]
    at_a_loss = await mcp.call_tool("breakeven", {"position": position["ticket"]})
    assert at_a_loss.isError and at_a_loss.structuredContent["code"] == "risk_denied"
    assert [v["code"] for v in at_a_loss.structuredContent["decision"]["verdicts"]
            if not v["passed"]] == ["stop_loss_placement"]  # the open price is above the bid
    pending = (await mcp.call_tool("pending_tickets", {})).structuredContent["tickets"]
    assert {t["id"] for t in pending} == {r.structuredContent["ticket_id"]
                                          for r in (modify, close, *others)}
    assert len(companion.broker.positions()) == 1
    assert (await mcp.call_tool("trails", {})).structuredContent == {"trails": []}


async def test_ticket_status_when_unknown_or_expired_then_says_so(mcp, clock):
    result = await mcp.call_tool("ticket_status", {"ticket_id": "tkt_nothere"})
    assert result.isError and text(result) == "There is no ticket tkt_nothere."
    ticket_id = (await mcp.call_tool("propose_order", ORDER)).structuredContent["ticket_id"]
    clock.advance(3600)
    status = await mcp.call_tool("ticket_status", {"ticket_id": ticket_id})
    assert status.structuredContent["status"] == "expired"


async def test_read_tools_then_the_service_data(mcp, companion):
    service = companion.service
    assert (await mcp.call_tool("account", {})).structuredContent == \
        to_jsonable(await service.account())
    bars = (await mcp.call_tool("bars", {"symbol": "EURUSD", "count": 3})).structuredContent
    assert len(bars["bars"]) == 3
    analysis = await mcp.call_tool("analyze", {"symbol": "EURUSD", "timeframe": "h1"})
    assert not analysis.isError and analysis.structuredContent["symbol"] == "EURUSD"
    size = await mcp.call_tool("size_position", {"symbol": "EURUSD", "risk_pct": 1,
                                                 "stop_loss": 1.11})
    assert size.structuredContent["volume"] > 0
    for name, key in (("orders", "orders"), ("history", "history"), ("alerts", "alerts")):
        assert (await mcp.call_tool(name, {})).structuredContent == {key: []}, name
    profit = await mcp.call_tool("profit", {"period": "week"})
    assert profit.structuredContent["period"] == "week"
    assert "days" in (await mcp.call_tool("daily", {"days": 3})).structuredContent
    sentiment = await mcp.call_tool("sentiment", {"symbol": "EURUSD"})
    assert sentiment.isError or sentiment.structuredContent


async def test_set_alert_then_listed_and_cancelled(mcp):
    alert = (await mcp.call_tool("set_alert", {"symbol": "EURUSD",
                                               "condition": "above 1.2"})).structuredContent
    assert alert["rule"] == "EURUSD bid crosses above 1.2"
    listed = (await mcp.call_tool("alerts", {})).structuredContent["alerts"]
    assert [a["id"] for a in listed] == [alert["id"]]
    cancelled = await mcp.call_tool("cancel_alert", {"alert_id": alert["id"]})
    assert cancelled.structuredContent["status"] == "cancelled"


async def test_resources_then_account_positions_tickets_and_analysis(mcp, companion):
    listed = {str(r.uri) for r in (await mcp.list_resources()).resources}
    assert listed == {"companion://account", "companion://positions",
                      "companion://tickets/pending"}
    templates = [t.uriTemplate for t in (await mcp.list_resource_templates()).resourceTemplates]
    assert templates == ["companion://analysis/{symbol}"]
    account = (await mcp.read_resource("companion://account")).contents[0].text
    assert '"balance": 10000.0' in account
    analysis = (await mcp.read_resource("companion://analysis/EURUSD")).contents[0].text
    assert '"symbol": "EURUSD"' in analysis
    assert (await mcp.read_resource("companion://positions")).contents[0].text == "[]"
    ticket_id = (await mcp.call_tool("propose_order", ORDER)).structuredContent["ticket_id"]
    pending = (await mcp.read_resource("companion://tickets/pending")).contents[0].text
    assert f'"id": "{ticket_id}"' in pending


async def test_service_proposals_when_side_or_symbol_malformed_then_refused_before_the_gate(
        companion):
    before = state_of(companion)
    for args, code in (({"symbol": "EURUSD", "side": "hold"}, "bad_side"),
                       ({"symbol": "EUR/USD", "side": "buy"}, "bad_symbol")):
        with pytest.raises(CompanionError) as refused:
            await companion.service.propose_order("t", volume=0.1, sl=1.1, **args)
        assert refused.value.code == code
    assert state_of(companion) == before


async def test_resource_when_unknown_symbol_then_refused(mcp):
    with pytest.raises(Exception, match="not a symbol this terminal knows"):
        await mcp.read_resource("companion://analysis/FOOBAR")
    with pytest.raises(Exception, match="is not a symbol name"):
        await mcp.read_resource("companion://analysis/1X")


async def test_prompts_then_the_companion_rules_and_where_tickets_are_confirmed(mcp):
    names = {p.name for p in (await mcp.list_prompts()).prompts}
    assert names == {"trading_rules", "data", "analysis", "sizing", "order", "manage", "alert"}
    rules = (await mcp.get_prompt("trading_rules")).messages[0].content.text
    assert "You cannot send orders" in rules and CONFIRMATION in rules
    order = (await mcp.get_prompt("order", {"request": "buy 0.1 EURUSD sl 1.11"}))
    said = order.messages[0].content.text
    assert "propose_order" in said and said.endswith("The trader asks: buy 0.1 EURUSD sl 1.11")


async def test_tool_when_the_service_fails_unexpectedly_then_a_generic_sentence_logged(
        mcp, companion, monkeypatch, caplog):
    async def broken(symbol):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(companion.service, "quote", broken)
    result = await mcp.call_tool("quote", {"symbol": "EURUSD"})
    assert result.isError and result.structuredContent["code"] == "internal_error"
    assert text(result).startswith("Something went wrong on our side; the error was logged.")
    assert "disk on fire" not in text(result)
    assert any("MCP tool quote failed: RuntimeError" in r.getMessage() for r in caplog.records)
