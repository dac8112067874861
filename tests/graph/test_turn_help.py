"""What the graph does around a weak model's turn (`models.plan_reads`): invented figures
dropped, missing order fields asked, the trader's stated order kept, alerts confirmed word for
word, analysis figures attached, a looping model replaced by what the tools returned."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, ToolMessage

from agent.graph.grounding import grounded, grounded_text, numbers_in, without_untraceable
from agent.graph.intents import stated_order
from agent.models.scripted import reply


async def turn(c, text: str, thread: str = "t1"):
    reply_ = await c.service.send(thread, text)
    state = await c.service.graph.aget_state({"configurable": {"thread_id": thread}})
    return reply_, state.values["messages"]


# -- grounding --------------------------------------------------------------------------------

@given(st.floats(min_value=0.0001, max_value=100_000, allow_nan=False),
       st.integers(min_value=0, max_value=5))
def test_a_figure_rounded_from_the_evidence_is_grounded(value: float, decimals: int) -> None:
    written = f"{value:,.{decimals}f}"
    assert numbers_in(f"it is {written} now") == [written]
    assert grounded(written, [value])


@given(st.floats(min_value=1, max_value=1000, allow_nan=False), st.floats(0.01, 10))
def test_a_figure_away_from_every_evidence_is_not(value: float, away: float) -> None:
    assert not grounded(f"{value + away + 0.01:.2f}", [value])


def test_sentences_with_invented_figures_are_dropped_and_the_rest_kept() -> None:
    text = "EURUSD trades at 1.11442 with a spread of 12 points. RSI is 45.2 on H4! Trend up."
    rest, loose = without_untraceable(text, [1.11442, 12])
    assert loose == ["45.2"] and rest == ("EURUSD trades at 1.11442 with a spread of 12 "
                                          "points. Trend up.")
    assert without_untraceable(text, [1.11442, 12, 45.2]) == (text, [])
    assert grounded_text("RSI is 45.2.", [1.0], []).startswith("I could not answer that")
    quote = ToolMessage(json.dumps({"symbol": "EURUSD", "bid": 1.1, "ask": 1.2,
                                    "spread_points": 10, "time": "t"}), tool_call_id="q",
                        name="quote")
    assert grounded_text("RSI is 45.2.", [1.0], [quote]).startswith(
        "Here is what the terminal returned:\nEURUSD: bid 1.1")


async def test_invented_rsi_then_trader_reads_the_analysis_not_the_guess(companion_factory):
    async with companion_factory(lambda messages: reply("The RSI on H4 is 45.2.")) as c:
        answer, _ = await turn(c, "What's the RSI of EURUSD on H4?")
        [row] = c.journal.rows("claim_corrections")
    assert "45.2" not in answer.text and "RSI" in answer.text
    assert row["kinds"] == ["number"] and row["claims"] == ["45.2"]


# -- follow-ups and questions -----------------------------------------------------------------

async def test_follow_up_without_symbol_then_the_symbol_named_last_is_read(companion_factory):
    def words(messages):
        results = [m for m in messages if isinstance(m, ToolMessage)]
        return reply(f"Read {json.loads(results[-1].content)['symbol']}.")
    async with companion_factory(words) as c:
        await turn(c, "Quote EURUSD.")
        answer, messages = await turn(c, "What's the RSI on H4?")
    planned = [m for m in messages if isinstance(m, AIMessage) and m.additional_kwargs.get(
        "planned")]
    assert planned[-1].tool_calls[0]["args"] == {"symbol": "EURUSD", "timeframe": "H4"}
    assert answer.text.startswith("Read EURUSD.")


async def test_no_symbol_anywhere_then_asked_and_no_model_called(companion_factory):
    calls = []
    async with companion_factory(lambda messages: calls.append(1) or reply("1.2345")) as c:
        answer, _ = await turn(c, "What's the price?")
    assert answer.text.startswith("Which symbol do you mean?") and calls == []


async def test_order_without_size_or_stop_then_asked_and_no_ticket(companion_factory):
    propose = {"symbol": "EURUSD", "side": "buy", "volume": 0.1}
    async with companion_factory(lambda messages: reply("", ("propose_order", propose))) as c:
        no_size, _ = await turn(c, "Buy EURUSD.", "a")
        no_stop, _ = await turn(c, "Buy 0.1 lots of EURUSD.", "b")
        pending = await c.service.pending_tickets()
    assert no_size.text.startswith("How many lots, and where should the stop-loss go?")
    assert no_stop.text.startswith("Where should the stop-loss go?")
    assert no_size.ticket is None and no_stop.ticket is None and pending == []


async def test_model_dropping_the_take_profit_then_the_ticket_carries_the_traders(
        companion_factory):
    dropped = {"symbol": "EURUSD", "side": "sell", "volume": 0.1, "stop_loss": 1.119}
    async with companion_factory(lambda messages: reply("", ("propose_order", dropped))) as c:
        answer, _ = await turn(c, "Short 0.1 lots of EURUSD, SL 1.1190, TP 1.1080.")
    assert answer.ticket["order"]["tp"] == 1.108 and answer.ticket["order"]["sl"] == 1.119


def test_stated_order_reads_only_what_the_words_state_once() -> None:
    assert stated_order("Place a buy limit for 0.1 lots EURUSD, limit at 1.1120, stop 1.1080, "
                        "tp 1.1200.") == {"symbol": "EURUSD", "side": "buy", "volume": 0.1,
                                          "stop_loss": 1.108, "take_profit": 1.12,
                                          "price": 1.112}
    assert stated_order("buy stop EURUSD 1 lot sl 1.1100") == {
        "symbol": "EURUSD", "side": "buy", "volume": 1.0, "stop_loss": 1.11}
    assert stated_order("buy or sell EURUSD?") == {"symbol": "EURUSD"}  # said two ways: open


async def test_alert_without_level_then_asked_and_none_stored(companion_factory):
    rule = {"kind": "price", "symbol": "EURUSD", "op": ">", "threshold": 1.0}
    async with companion_factory(lambda messages: reply("", ("set_alert", rule))) as c:
        answer, _ = await turn(c, "Set an alert for EURUSD.")
        stored = await c.service.alerts()
    assert answer.text.startswith("At what level should the EURUSD alert fire?")
    assert stored == []


async def test_alert_stored_then_the_rule_is_shown_word_for_word(companion_factory):
    rule = {"kind": "price", "symbol": "EURUSD", "op": ">", "threshold": 1.12}

    def once(messages):
        if any(isinstance(m, ToolMessage) for m in messages):
            return reply("The trader's rule was compiled.")  # never asked: the graph answers
        return reply("", ("set_alert", rule))
    async with companion_factory(once) as c:
        answer, _ = await turn(c, "Alert me when EURUSD goes above 1.1200.")
    assert answer.text.startswith("Alert set: EURUSD bid crosses above 1.12. It fires once")
    assert "/cancelalert alr_" in answer.text


async def test_analysis_answer_then_the_asked_figures_follow(companion_factory):
    async with companion_factory(lambda messages: reply("Momentum is fading.")) as c:
        answer, _ = await turn(c, "What does the MACD say for EURUSD H1?")
    prose, figures = answer.messages
    assert prose == "Momentum is fading."
    assert figures.startswith("Figures from the analysis:\n- EURUSD H1 last close ")
    assert "MACD histogram" in figures and "Pivots" not in figures


async def test_sentiment_command_and_answer_then_label_polarity_and_count_shown(
        companion_factory):
    async with companion_factory(lambda messages: reply("The news reads neutral.")) as c:
        command, _ = await turn(c, "/sentiment EURUSD", "a")
        answer, _ = await turn(c, "What's the news sentiment on EURUSD?", "b")
    assert command.text.startswith("News sentiment ") and " headlines." in command.text
    assert "mean polarity" in command.text and "over 0 headlines" not in command.text
    assert answer.messages[-1].startswith("Figures from the analysis:\n- News sentiment ")


async def test_model_echoing_an_empty_tool_result_then_the_trader_reads_what_it_means(
        companion_factory):
    async with companion_factory(lambda messages: reply("[]")) as c:
        answer, _ = await turn(c, "Show my open positions.")
    assert answer.text.endswith("No open positions.") and "[]" not in answer.text
