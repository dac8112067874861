"""What the assistant node does not let a weak model do: guess a symbol, or answer a denial
with another call."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, ToolMessage

from agent.models.scripted import reply


def assumes_eurusd(messages):
    last = [m for m in messages if isinstance(m, HumanMessage)][-1]
    if not str(last.content).startswith("Buy"):
        return reply("Fine.")
    if not isinstance(messages[-1], ToolMessage):
        return reply("", ("propose_order", {"symbol": "EURUSD", "side": "buy", "volume": 0.1,
                                            "stop_loss": 1.11}))
    return reply("Proposed.")


async def test_order_without_a_symbol_when_model_assumes_one_then_the_trader_is_asked(
        companion_factory):
    async with companion_factory(assumes_eurusd) as c:
        result = await c.service.send("t1", "Buy 0.1 lots.")
        tickets = c.journal.rows("tickets")
    assert result.ticket is None and tickets == []
    assert result.text.startswith("Which symbol do you mean?")


async def test_symbol_named_earlier_in_the_conversation_is_not_a_guess(companion_factory):
    async with companion_factory(assumes_eurusd) as c:
        await c.service.send("t1", "How is EURUSD doing?")
        result = await c.service.send("t1", "Buy 0.1 lots with a stop at 1.1100.")
    assert result.ticket is not None and result.ticket["order"]["symbol"] == "EURUSD"


def proposes_then_writes_a_call(messages):
    results = [m for m in messages if isinstance(m, ToolMessage)]
    if not results:
        return reply("", ("propose_order", {"symbol": "EURUSD", "side": "buy", "volume": 20,
                                            "stop_loss": 1.11}))
    return reply('{"name": "close_position", "arguments": {"ticket": 0}}')


async def test_denial_answered_with_a_call_as_text_then_the_risk_engine_explains(
        companion_factory):
    async with companion_factory(proposes_then_writes_a_call) as c:
        result = await c.service.send("t1", "Buy 20 lots of EURUSD with a stop at 1.1100.")
        assert c.journal.rows("orders") == []
    assert result.ticket is None
    assert "close_position" not in result.text
    assert "denied" in result.text.lower() or "not" in result.text.lower()
