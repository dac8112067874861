"""A data question whose words name the call: the call is made first, the model answers from it."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage, ToolMessage

from agent.graph.intents import Intent, plan_for, route_by_rules
from agent.models.scripted import reply


def guesses_first(messages):
    """Answers from memory when it has no tool result; from the tool when it has one."""
    results = [m for m in messages if isinstance(m, ToolMessage)]
    if not results:
        return reply("EURUSD is 1.23456.")
    return reply(f"EURUSD bid is {json.loads(results[-1].content)['bid']}.")


async def test_price_question_then_quote_made_first_and_the_model_only_words_the_answer(
        companion_factory):
    async with companion_factory(guesses_first) as c:
        seen = []
        async for event in c.service.stream("t1", "What is the price of EURUSD?"):
            seen.append(event.text)
        bid = c.broker.quote("EURUSD").bid
        state = await c.service.graph.aget_state({"configurable": {"thread_id": "t1"}})
    shown = "".join(seen)
    assert "1.23456" not in shown
    assert f"EURUSD bid is {bid}." in shown
    planned = [m for m in state.values["messages"]
               if isinstance(m, AIMessage) and m.additional_kwargs.get("planned")]
    assert [c["name"] for c in planned[0].tool_calls] == ["quote"]
    assert len(planned) == 1


async def test_without_a_full_plan_the_models_own_call_stands(companion_factory):
    def analyses(messages):
        if not any(isinstance(m, ToolMessage) for m in messages):
            return reply("", ("analyze", {"symbol": "EURUSD", "timeframe": "H4"}))
        return reply("Done.")

    async with companion_factory(analyses) as c:
        await c.service.send("t1", "What is the RSI on H4 of EURUSD or GBPUSD?")  # two: the model's
        state = await c.service.graph.aget_state({"configurable": {"thread_id": "t1"}})
    calls = [call for m in state.values["messages"] if isinstance(m, AIMessage)
             for call in m.tool_calls]
    assert [(c["name"], c["args"]["timeframe"]) for c in calls] == [("analyze", "H4")]


def test_plan_only_when_the_words_name_every_argument() -> None:
    assert plan_for(("quote",), "What is the price?") == ()
    assert plan_for(("quote",), "EURUSD or GBPUSD, which is higher?") == ()
    assert plan_for(("analyze",), "Compare EURUSD on H1 and H4") == (
        ("analyze", {"symbol": "EURUSD", "timeframe": "H1"}),
        ("analyze", {"symbol": "EURUSD", "timeframe": "H4"}))
    assert plan_for(("bars",), "last 5 H4 bars of gbpusd") == (
        ("bars", {"symbol": "GBPUSD", "timeframe": "H4", "count": 5}),)
    assert plan_for(("size_position", "quote"), "lots for EURUSD 1%?") == ()
    assert plan_for(("size_position", "quote"), "How many lots to buy EURUSD, 1% risk, sl 1.1") == (
        ("size_position", {"symbol": "EURUSD", "risk_pct": 1.0, "stop_loss": 1.1, "side": "buy"}),)
    route = route_by_rules("Buy 0.1 lots of EURUSD, stop 1.1100.", None)
    assert route is not None and route.intent is Intent.ORDER and route.plan == ()
