"""Bounded memory: the model sees a bounded, API-valid window of any thread (agent.graph.memory).

Threads are built here the way the graph writes them (tool JSON from agent.tools.catalog,
proposal ToolMessages with ids "proposal-...", respond and command replies with their extras);
one test reads a thread the real graph wrote.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import (AIMessage, BaseMessage, HumanMessage, SystemMessage,
                                     ToolMessage)

from agent.graph.memory import (SUMMARY_ID, clear_memos, estimate_tokens, model_window,
                                openai_problems, text_tokens)
from evals.baseline import baseline_policy

SYSTEM = SystemMessage("You are a trading assistant.")


# -- threads as the graph writes them ------------------------------------------------------

def _id() -> str:
    return uuid.uuid4().hex


def analyze_output(rsi: float = 55.88, close: float = 1.11442, tf: str = "H1") -> str:
    """An `analyze` tool output of the real shape and size (~2,100 characters)."""
    facts = [f"EURUSD {tf} last close {close} at 2017-05-18 05:00 UTC (400 bars).",
             "Trend up: EMA20 1.11418 > EMA50 1.11000 > EMA200 1.09935; EMA50 moved +276 "
             "points over 10 bars; ADX 42.28 (strong trend), +DI 25.88, -DI 18.84.",
             f"Momentum: RSI {rsi} (bullish); MACD histogram -0.000399 (negative, falling "
             "from -0.000301); Stochastic %K 71.55, %D 80.13.",
             "Volatility normal: ATR 0.00133 (0.119% of price), percentile 41 of the last "
             "386 bars.",
             "Pivots from 2017-05-17: S3 1.10110, S2 1.10463, S1 1.11003, P 1.11356, R1 "
             "1.11896, R2 1.12249, R3 1.12789.",
             "Levels: nearest support 1.11222 (220 points below); nearest resistance 1.11510 "
             "(68 points above)."]
    return json.dumps({
        "symbol": "EURUSD", "timeframe": tf, "digits": 5, "bars": 400,
        "last_time": "2017-05-18T05:00:00+00:00", "last_close": close,
        "trend": {"direction": "up", "strength": "strong", "ema_20": 1.11418, "ema_50": 1.11,
                  "ema_200": 1.09935, "ema_50_slope_points": 276, "slope_bars": 10,
                  "adx": 42.28, "plus_di": 25.88, "minus_di": 18.84},
        "momentum": {"rsi": rsi, "rsi_zone": "bullish", "macd_hist": -0.000399,
                     "macd_hist_prev": -0.000301, "macd_hist_change": "falling",
                     "stoch_k": 71.55, "stoch_d": 80.13},
        "volatility": {"atr": 0.00133, "atr_pct": 0.119, "atr_percentile": 41, "window": 386,
                       "regime": "normal"},
        "levels": {"pivots": {"day": "2017-05-17", "p": 1.11356, "r1": 1.11896, "r2": 1.12249,
                              "r3": 1.12789, "s1": 1.11003, "s2": 1.10463, "s3": 1.1011},
                   "nearest_support": 1.11222, "support_distance_points": 220,
                   "nearest_resistance": 1.1151, "resistance_distance_points": 68},
        "unavailable": [], "facts": facts, "summary_text": " ".join(facts)},
        separators=(",", ":"))


def quote_output(bid: float = 1.11442, ask: float = 1.11454) -> str:
    return json.dumps({"symbol": "EURUSD", "bid": bid, "ask": ask, "spread_points": 12.0,
                       "time": "2017-05-18T05:00:00+00:00", "digits": 5},
                      separators=(",", ":"))


def tool_turn(question: str, name: str, args: dict, output: str, answer: str,
              ) -> list[BaseMessage]:
    call = {"name": name, "args": args, "id": f"call_{_id()[:10]}", "type": "tool_call"}
    return [HumanMessage(question, id=_id()), AIMessage("", tool_calls=[call], id=_id()),
            ToolMessage(output, tool_call_id=call["id"], name=name, id=_id()),
            AIMessage(answer, id=_id())]


def analysis_turn(rsi: float = 55.88) -> list[BaseMessage]:
    return tool_turn("Give me an analysis of EURUSD on H1", "analyze",
                     {"symbol": "EURUSD", "timeframe": "H1"}, analyze_output(rsi),
                     f"H1: EURUSD trend up, RSI {rsi} (bullish), ADX 42.28.")


def quote_turn(bid: float = 1.11442) -> list[BaseMessage]:
    return tool_turn("What is the EURUSD price?", "quote", {"symbol": "EURUSD"},
                     quote_output(bid, round(bid + 0.00012, 5)), f"EURUSD bid {bid}.")


def size_turn() -> list[BaseMessage]:
    out = json.dumps({"volume": 0.06, "money_at_risk": 87.24, "risk_pct": 0.8725047005640677,
                      "sl_points": 1454.0, "reason": "0.06 lots risk 87.24 (0.87% of equity)",
                      "code": "sized", "caps": []})
    return tool_turn("How many lots for EURUSD if I risk 1% with stop 1.1000?", "size_position",
                     {"symbol": "EURUSD", "risk_pct": 1.0, "stop_loss": 1.1}, out,
                     "0.06 lots risks 87.24.")


def filled_order_turn() -> list[BaseMessage]:
    """Model mode: propose -> gate approves -> trader confirms -> filled (respond's reply)."""
    call_id = f"call_{_id()[:10]}"
    call = {"name": "propose_order", "id": call_id, "type": "tool_call",
            "args": {"symbol": "EURUSD", "side": "buy", "volume": 0.1, "stop_loss": 1.113,
                     "take_profit": 1.12}}
    text = ("Filled: ticket tkt_efbd527e9127, 0.1 lots at 1.11454 (order #100000001, "
            "position #100000001).")
    ticket = {"id": "tkt_efbd527e9127", "tool_call_id": call_id,
              "order": {"symbol": "EURUSD", "side": "buy", "volume": 0.1, "sl": 1.113,
                        "tp": 1.12, "price": None, "kind": "open", "position_ticket": None}}
    outcome = {"status": "filled", "message": "The order was filled.",
               "result": {"volume": 0.1, "price": 1.11454, "order": 100000001,
                          "position": 100000001}}
    return [HumanMessage("Buy 0.1 lots EURUSD stop 1.1130 tp 1.1200", id=_id()),
            AIMessage("", tool_calls=[call], id=_id()),
            ToolMessage(text, tool_call_id=call_id, id=f"proposal-{call_id}"),
            AIMessage(text, id=_id(), additional_kwargs={
                "outcome": outcome, "ticket": ticket, "decision": {"approved": True}})]


def denied_command_turn() -> list[BaseMessage]:
    """Command mode: /buy -> gate denies -> respond's reply carries the decision."""
    decision = {"approved": False,
                "intent": {"symbol": "EURUSD", "side": "buy", "volume": 5.0, "sl": 1.1,
                           "tp": None, "price": None, "kind": "open", "position_ticket": None},
                "verdicts": [{"code": "stop_loss_required", "passed": True, "message": "ok"},
                             {"code": "risk_per_trade", "passed": False,
                              "message": "Risk at the stop is 72.71% of equity; your limit is "
                                         "1.00%."},
                             {"code": "margin_use", "passed": False,
                              "message": "Margin in use would be 56.8% of equity."}]}
    return [HumanMessage("/buy EURUSD 5 sl 1.1000", id=_id()),
            AIMessage("DENIED by the risk engine; nothing was sent. Risk at the stop is 72.71% "
                      "of equity; your limit is 1.00%.", id=_id(),
                      additional_kwargs={"outcome": None, "ticket": None,
                                         "decision": decision})]


def alert_command_turn() -> list[BaseMessage]:
    data = {"id": "alr_47cd87adfd68", "rule": "EURUSD bid crosses above 1.2",
            "text": "EURUSD above 1.2", "mode": "once", "status": "active"}
    return [HumanMessage("/alert EURUSD above 1.2", id=_id()),
            AIMessage(str(data), id=_id(), additional_kwargs={"command": "alert", "data": data})]


def thread(*turns: list[BaseMessage]) -> list[BaseMessage]:
    return [m for turn in turns for m in turn]


def mixed_thread(n: int) -> list[BaseMessage]:
    makers = (analysis_turn, quote_turn, size_turn)
    return thread(*(makers[i % 3]() for i in range(n)))


def assert_sendable(window: Sequence[BaseMessage]) -> None:
    assert openai_problems([SYSTEM, *window]) == []


def summary_of(window: Sequence[BaseMessage]) -> str:
    assert window and window[0].id == SUMMARY_ID, "no summary in the window"
    return window[0].text


# -- the window ------------------------------------------------------------------------------

def test_window_when_thread_is_short_then_every_turn_is_sent_without_summary():
    messages = thread(quote_turn(), size_turn())
    window = model_window(messages)
    assert window == messages
    assert_sendable(window)


def test_window_when_200_turns_then_within_budget_and_starts_with_summary_then_human():
    messages = mixed_thread(200)
    assert estimate_tokens(messages) > 80_000  # what the model was sent before
    window = model_window(messages, max_tokens=3000)
    assert estimate_tokens(window) <= 3000
    assert isinstance(window[0], SystemMessage) and isinstance(window[1], HumanMessage)
    assert_sendable(window)


def test_window_current_turn_is_complete_and_verbatim_with_its_large_analysis():
    messages = thread(*(quote_turn() for _ in range(10)), analysis_turn(rsi=61.25))
    current = messages[-4:]
    window = model_window(messages)
    assert all(a is b for a, b in zip(window[-4:], current, strict=True))
    assert json.loads(window[-2].content)["momentum"]["rsi"] == 61.25


def test_older_analysis_when_kept_as_a_turn_then_shortened_to_its_numbers():
    messages = thread(analysis_turn(rsi=48.5), quote_turn())
    window = model_window(messages, keep_turns=2)
    old = next(m for m in window if isinstance(m, ToolMessage) and m.name == "analyze")
    assert old.tool_call_id == messages[2].tool_call_id
    assert estimate_tokens(old) < 150 < text_tokens(messages[2].content)
    assert "RSI 48.5" in old.content and "close 1.11442" in old.content
    assert messages[2].content == analyze_output(rsi=48.5)  # the checkpoint is untouched


def test_older_tool_output_when_not_understood_then_cut_with_a_note():
    long_text = "headline " * 200
    messages = thread(tool_turn("news on EURUSD?", "news", {"symbol": "EURUSD"}, long_text,
                                "Nothing notable."), quote_turn())
    old = model_window(messages, keep_turns=2)[2]
    assert old.content.startswith(long_text[:400])
    assert "[older result cut: 1400 more characters; call the tool again" in old.content


def test_summary_when_order_filled_long_ago_then_lists_ticket_fill_and_position():
    messages = thread(filled_order_turn(), *(quote_turn() for _ in range(5)))
    text = summary_of(model_window(messages))
    assert ("ticket tkt_efbd527e9127 BUY 0.1 EURUSD SL 1.113 TP 1.12: filled 0.1 lots at "
            "1.11454 (position #100000001)") in text


def test_summary_when_command_order_denied_then_lists_reason_codes():
    messages = thread(denied_command_turn(), *(quote_turn() for _ in range(5)))
    text = summary_of(model_window(messages))
    assert "BUY 5 EURUSD SL 1.1" in text
    assert "DENIED by the risk engine [risk_per_trade, margin_use]" in text


def test_summary_when_model_proposal_denied_then_lists_order_and_reason():
    call = {"name": "propose_order", "id": "call_d1", "type": "tool_call",
            "args": {"symbol": "EURUSD", "side": "sell", "volume": 2.0, "stop_loss": 1.12}}
    denied = [HumanMessage("sell 2 lots EURUSD sl 1.12", id=_id()),
              AIMessage("", tool_calls=[call], id=_id()),
              ToolMessage("DENIED by the risk engine; nothing was sent. Risk at the stop is "
                          "3.4% of equity; your limit is 1.00%.", tool_call_id="call_d1",
                          name="propose_order", id="proposal-call_d1"),
              AIMessage("The risk engine denied that order.", id=_id())]
    text = summary_of(model_window(thread(denied, *(quote_turn() for _ in range(5)))))
    assert ("SELL 2 EURUSD SL 1.12 TP -: DENIED by the risk engine: Risk at the stop is "
            "3.4% of equity") in text


def test_summary_when_alert_set_then_lists_alert_id_and_rule():
    text = summary_of(model_window(thread(alert_command_turn(),
                                          *(quote_turn() for _ in range(5)))))
    assert "alert alr_47cd87adfd68: EURUSD bid crosses above 1.2 (active, once)" in text


def test_summary_when_symbol_quoted_many_times_then_only_the_latest_quote():
    messages = thread(*(quote_turn(bid=1.1100 + i / 10_000) for i in range(10)))
    text = summary_of(model_window(messages, keep_turns=2))
    assert text.count("EURUSD bid") == 1
    assert "EURUSD bid 1.1107, ask 1.11082" in text  # turn 8: the newest compacted one


def test_summary_quotes_analysis_and_size_numbers():
    messages = thread(analysis_turn(rsi=33.3), size_turn(), *(quote_turn() for _ in range(3)))
    text = summary_of(model_window(messages))
    assert "EURUSD H1 analysis at 2017-05-18 05:00: close 1.11442" in text
    assert "RSI 33.3 (bullish)" in text
    assert "Size for EURUSD at 1% risk, SL 1.1: 0.06 lots, 87.24 at risk" in text


def test_summary_when_budget_is_small_then_orders_kept_before_figures():
    messages = thread(filled_order_turn(), *(analysis_turn() for _ in range(6)), quote_turn())
    window = model_window(messages, max_tokens=300, keep_turns=1)
    text = summary_of(window)
    assert "tkt_efbd527e9127" in text and "analysis" not in text
    assert estimate_tokens(window) <= 300


def test_window_when_current_turn_exceeds_budget_then_sent_whole_and_alone():
    messages = thread(quote_turn(), analysis_turn())
    window = model_window(messages, max_tokens=200)
    assert window == messages[-4:]
    assert_sendable(window)


def test_window_when_a_tool_call_was_never_answered_then_the_call_is_dropped():
    broken = quote_turn()
    del broken[2]  # the ToolMessage: e.g. a crash between the model and the tools
    messages = thread(broken, size_turn())
    window = model_window(messages)
    assert_sendable(window)
    assert not [m for m in window if isinstance(m, AIMessage) and m.tool_calls
                and m.tool_calls[0]["name"] == "quote"]
    assert messages[1].tool_calls  # the checkpoint is untouched


def test_window_when_orphan_tool_message_then_dropped():
    orphan = ToolMessage("stray", tool_call_id="call_nobody", id=_id())
    messages = [*quote_turn()[:1], orphan, *quote_turn()[1:]]
    assert_sendable(model_window(messages))


def test_window_when_unparsed_tool_call_then_not_sent():
    bad = AIMessage("Let me check.", id=_id(), invalid_tool_calls=[
        {"name": "quote", "args": "{symbol: EURUSD", "id": "call_bad", "error": "bad json",
         "type": "invalid_tool_call"}])
    messages = thread([HumanMessage("price?", id=_id()), bad], quote_turn())
    assert openai_problems([SYSTEM, *messages])  # as stored, the API would refuse it
    window = model_window(messages)
    assert_sendable(window)
    assert [m.text for m in window[:2]] == ["price?", "Let me check."]


def test_window_when_messages_precede_the_first_human_then_window_starts_with_human():
    greeting = AIMessage("Hello, I am your trading companion.", id=_id())
    window = model_window([greeting, *quote_turn()])
    assert isinstance(window[0], HumanMessage)
    assert_sendable(window)


def test_window_when_no_human_message_then_empty():
    assert model_window([AIMessage("hello", id=_id())]) == []


def test_window_is_deterministic_whether_memoized_or_not():
    messages = thread(filled_order_turn(), denied_command_turn(), alert_command_turn(),
                      *(analysis_turn() for _ in range(5)))
    first = model_window(messages)
    warm = model_window([m.model_copy() for m in messages])
    clear_memos()
    cold = model_window([m.model_copy() for m in messages])
    view = [[(type(m), m.text, m.id) for m in w] for w in (first, warm, cold)]
    assert view[0] == view[1] == view[2]


class CountingThread(Sequence):
    """A thread that counts how many of its messages are read."""

    def __init__(self, messages: list[BaseMessage]) -> None:
        self.messages, self.reads = messages, 0

    def __len__(self) -> int:
        return len(self.messages)

    def __getitem__(self, index):
        item = self.messages[index]
        self.reads += len(item) if isinstance(index, slice) else 1
        return item


def test_window_reads_the_same_number_of_messages_at_turn_200_as_at_turn_2000():
    base = mixed_thread(200)
    long = CountingThread([*mixed_thread(1800), *base])
    short = CountingThread(base)
    assert model_window(long) == model_window(short)
    # keep_turns + fact_turns = 43 turns of 4 messages, each read about twice (walk + slice)
    assert long.reads == short.reads < 2 * 4 * 45


def test_window_when_arguments_are_wrong_then_value_error():
    with pytest.raises(ValueError):
        model_window(quote_turn(), keep_turns=0)


def test_openai_problems_when_call_unanswered_or_result_orphaned_then_reported():
    turn = quote_turn()
    assert openai_problems([SYSTEM, *turn]) == []
    assert openai_problems([SYSTEM, *turn[:2], turn[3]])  # the call's result is missing
    assert openai_problems([SYSTEM, turn[0], turn[2]])  # a result with no call
    assert openai_problems([SYSTEM, *turn[1:]])  # the conversation starts with the model


def test_estimate_counts_digits_one_token_each():
    assert text_tokens("1234567890") == 10
    assert text_tokens("") == 0
    assert 950 <= text_tokens(analyze_output()) <= 1250  # Qwen2.5 reads ~1,150


# -- the real graph's messages ---------------------------------------------------------------

async def test_window_of_a_thread_written_by_the_graph_is_sendable_and_remembers_the_fill(
        companion_factory):
    async with companion_factory(baseline_policy) as c:
        proposed = await c.service.send("t", "Buy 0.1 lots EURUSD stop 1.1130 tp 1.1200")
        ticket_id = proposed.ticket["id"]
        await c.service.resolve_ticket(ticket_id, "approve", by="test")
        for question in ("What is the EURUSD price?", "Give me an analysis of EURUSD on H1",
                         "/alert EURUSD above 1.2"):
            await c.service.send("t", question)
        state = await c.service.graph.aget_state({"configurable": {"thread_id": "t"}})
        messages = await c.service.thread_messages("t")  # the archive's, then the state's
    window = model_window(messages, keep_turns=2)
    assert window == model_window(state.values["messages"], archived=state.values["archived"],
                                  keep_turns=2)  # the bounded state's window is the same
    assert_sendable(window)
    text = summary_of(window)
    assert f"ticket {ticket_id} BUY 0.1 EURUSD SL 1.113 TP 1.12: filled 0.1 lots at" in text
    assert "EURUSD bid" in text
    assert window[-2:] == messages[-2:]  # the /alert turn: the trader's and the reply


# -- the invariant, for any thread ----------------------------------------------------------

OUTPUTS = st.sampled_from([
    quote_output(), analyze_output(), "Error: 'GBPUSD' is not a symbol this terminal knows.",
    "APPROVED by the risk engine as ticket tkt_1: BUY 0.10 EURUSD SL 1.1 TP -. It has NOT "
    "been sent.", "DENIED by the risk engine; nothing was sent. Risk at the stop is 6.45%.",
    '{"id":"alr_1","rule":"EURUSD bid crosses above 1.2","mode":"once","status":"active"}',
    "[]", "{not json"]) | st.text(max_size=3000)
TOOL_NAMES = st.sampled_from(["quote", "analyze", "size_position", "propose_order",
                              "set_alert", "bars", "positions"])
WORDS = st.text(alphabet="abc EURUSD 0123456789.,%", max_size=400)


@st.composite
def turns(draw, index: int) -> list[BaseMessage]:
    """One turn: a question, up to three model rounds of tool calls and their results, then
    maybe an answer (the respond node's or a command reply sometimes)."""
    turn: list[BaseMessage] = [HumanMessage(draw(WORDS) or "?", id=f"h{index}")]
    for r in range(draw(st.integers(0, 3))):
        calls = [{"name": draw(TOOL_NAMES), "args": {"symbol": "EURUSD"},
                  "id": f"c{index}_{r}_{j}", "type": "tool_call"}
                 for j in range(draw(st.integers(1, 3)))]
        turn.append(AIMessage(draw(WORDS), tool_calls=calls, id=f"a{index}_{r}"))
        for call in calls:
            proposal = call["name"] == "propose_order"
            turn.append(ToolMessage(draw(OUTPUTS), tool_call_id=call["id"], name=call["name"],
                                    id=f"proposal-{call['id']}" if proposal else _id()))
    answer = draw(st.sampled_from(["none", "text", "respond", "command"]))
    if answer == "text":
        turn.append(AIMessage(draw(WORDS), id=f"r{index}"))
    elif answer in ("respond", "command"):
        turn.extend(denied_command_turn()[1:] if answer == "respond"
                    else alert_command_turn()[1:])
    return turn


@st.composite
def threads(draw) -> tuple[list[BaseMessage], bool]:
    """A thread of 1-30 turns; sometimes broken (a result lost, a stray result, a message
    before the first question) the way a crash or an old bug could leave one."""
    messages = [m for i in range(draw(st.integers(1, 30))) for m in draw(turns(i))]
    broken = draw(st.booleans())
    if broken:
        results = [i for i, m in enumerate(messages) if isinstance(m, ToolMessage)]
        if results:
            del messages[draw(st.sampled_from(results))]
        at = draw(st.integers(0, len(messages)))
        messages.insert(at, ToolMessage("stray", tool_call_id="call_stray", id=_id()))
        if draw(st.booleans()):
            messages.insert(0, AIMessage("hello", id=_id()))
    return messages, broken


def current_turn(messages: list[BaseMessage]) -> list[BaseMessage]:
    last = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    return messages[last:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(threads(), st.integers(150, 5000), st.integers(1, 5), st.integers(0, 12))
def test_window_for_any_thread_is_sendable_within_budget_with_the_current_turn_whole(
        drawn, max_tokens, keep_turns, fact_turns):
    messages, broken = drawn
    window = model_window(messages, max_tokens=max_tokens, keep_turns=keep_turns,
                          fact_turns=fact_turns)
    assert_sendable(window)
    current = current_turn(messages)
    assert estimate_tokens(window) <= max(max_tokens, estimate_tokens(current))
    if not broken:
        # the current turn, complete: the very same messages, in order
        assert all(a is b for a, b in zip(window[-len(current):], current, strict=True))
        # before it, whole turns: the thread's last messages, a long tool output shortened
        body = window[1:] if window and window[0].id == SUMMARY_ID else window
        tail = messages[len(messages) - len(body):]
        for sent, stored in zip(body, tail, strict=True):
            assert sent is stored or (isinstance(sent, ToolMessage)
                                      and sent.tool_call_id == stored.tool_call_id)
