"""Claims checked against the journal: what the trader reads about the broker is what happened.

Detection is a table of claims and of honest sentences; correction is checked against facts
built by hand; the graph tests run the claim check as graph.py wires it (assistant ->
check_claims -> END, risk_gate -> check_claims -> confirm, respond -> check_claims -> END).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from langchain_core.messages import AIMessage, ToolMessage

from agent.graph.claims import (CLAIM_WORDS, ClaimKind, Denial, StreamGuard, TicketFact,
                                TurnFacts, claim_in, correct_claims, find_claims, sentences)
from agent.models.scripted import reply, sequence
from agent.store import Journal

BUY = {"symbol": "EURUSD", "side": "buy", "volume": 0.1, "stop_loss": 1.11,
       "take_profit": 1.122}
NO_STOP = {"symbol": "EURUSD", "side": "buy", "volume": 0.1}


@pytest.fixture
def checked(companion_factory):
    """A companion on graph.py's graph, which wires the claim check."""
    return companion_factory


# -- detection --------------------------------------------------------------------------------

CLAIMS = [
    ("I've placed your buy order.", ClaimKind.SEND),
    ("Your order has been filled.", ClaimKind.SEND),
    ("Done: your order is placed and filled.", ClaimKind.SEND),
    ("Done, your order is filled", ClaimKind.SEND),
    ("Executed.", ClaimKind.SEND),
    ("Order filled!", ClaimKind.SEND),
    ("The order went through at 1.1144.", ClaimKind.SEND),
    ("All done - I've sent the order to MT5.", ClaimKind.SEND),
    ("Your EUR/USD buy was executed at 1.0850", ClaimKind.SEND),
    ("Your trade is live.", ClaimKind.SEND),
    ("Bought 0.1 lots of EURUSD.", ClaimKind.OPEN),
    ("I have sold 0.2 lots of GBPUSD for you.", ClaimKind.OPEN),
    ("I opened a long position on EURUSD.", ClaimKind.OPEN),
    ("You are now long 0.1 EURUSD.", ClaimKind.OPEN),
    ("Your position was closed.", ClaimKind.CLOSE),
    ("Position closed.", ClaimKind.CLOSE),
    ("I closed position #12345.", ClaimKind.CLOSE),
    ("SL moved to 1.1100.", ClaimKind.MODIFY),
    ("I moved your stop to breakeven.", ClaimKind.MODIFY),
    ("Your take-profit was updated to 1.1250.", ClaimKind.MODIFY),
    ("Cancelled.", ClaimKind.CANCEL),
    ("Your pending order was cancelled.", ClaimKind.CANCEL),
]

HONEST = [
    "Nothing was sent.",
    "Your order is not filled.",
    "It will be placed once you confirm.",
    "I proposed a buy of 0.1 EURUSD with a stop at 1.1100.",
    "The ticket is waiting for your confirmation.",
    "It has NOT been sent: it waits for the trader's confirmation until 12:02:00 UTC.",
    "The risk engine denied that order, so nothing was sent.",
    "DENIED by the risk engine; nothing was sent. An order needs a stop-loss.",
    "The risk engine approved a ticket. It has not been sent: confirm or reject it.",
    "Should I place it?",
    "Was your order filled?",
    "If filled, you risk 50 USD.",
    "Once you confirm, your order is placed.",
    "The trade will be executed after your approval.",
    "The order would be filled at about 1.1144.",
    "Ready to be placed when you approve.",
    "No order has been placed.",
    "I haven't sent anything.",
    "I didn't place any order.",
    "Nothing has been executed yet.",
    "Let me place that for you.",
    "I can place it for you.",
    "EURUSD opened the session at 1.0850.",
    "The market closed higher.",
    "H1 bar closed above the EMA20.",
    "EURUSD closed at 1.1150 yesterday.",
    "Price moved toward your stop.",
    "Trend up: EMA50 moved +12 points over 20 bars.",
    "Buyers bought the dip.",
    "EURUSD sold off after the news.",
    "I sent you the analysis.",
    "Your alert was deleted.",
    "Done: Alert set: EURUSD bid > 1.12.",
    "Your position was closed by the stop-loss.",
    "The stop is placed below the swing low.",
    "You have no open positions.",
    "EURUSD bid 1.11442, ask 1.11452, spread 1.0 points.",
]


@pytest.mark.parametrize(("text", "kind"), CLAIMS)
def test_detection_when_sentence_claims_a_broker_change_then_found(text, kind):
    assert [c.kind for c in find_claims(text)] == [kind]


@pytest.mark.parametrize("text", HONEST)
def test_detection_when_sentence_is_honest_then_no_claim(text):
    assert find_claims(text) == []


def test_detection_when_text_mixes_claims_and_facts_then_each_claim_sentence_found():
    text = ("EURUSD bid is 1.1144. I've placed your order.\nSL moved to 1.1100. "
            "Anything else?")
    assert [c.sentence for c in find_claims(text)] == ["I've placed your order.",
                                                      "SL moved to 1.1100."]


def test_detection_then_symbol_side_and_references_read_from_the_sentence():
    sold, closed = find_claims("Sold 0.2 lots of GBP/USD. I closed position #4521.")
    assert (sold.symbol, sold.side, sold.needs_fill) == ("GBPUSD", "sell", True)
    assert (closed.kind, closed.side, closed.numbers) == (ClaimKind.CLOSE, None, ("4521",))


# -- correction against facts -----------------------------------------------------------------

def ticket(status="pending", outcome=None, kind="open", symbol="EURUSD", side="buy",
           id="tkt_1") -> TicketFact:
    return TicketFact(id, status, kind, symbol, side, 0.1, outcome)


def test_correction_when_ticket_pending_then_claim_replaced_by_wait_for_confirmation():
    text, violation = correct_claims("Done, your order is filled.",
                                     TurnFacts(tickets=(ticket(),)))
    assert text == "Nothing was sent: ticket tkt_1 waits for your confirmation."
    assert violation is not None and [c.kind for c in violation.claims] == [ClaimKind.SEND]


def test_close_all_and_order_changes_when_sent_then_they_back_close_and_modify_claims():
    closed = ticket("sent", "filled", kind="close_all", side="sell")
    assert correct_claims("I closed your positions.", TurnFacts(tickets=(closed,)))[1] is None
    moved = ticket("sent", "done", kind="modify_order")
    assert correct_claims("I moved your order's stop.", TurnFacts(tickets=(moved,)))[1] is None
    pending = ticket(kind="close_all")
    assert correct_claims("I closed your positions.", TurnFacts(tickets=(pending,)))[1]


def test_correction_when_denied_then_reason_codes_and_the_engine_sentences():
    denial = Denial(("stop_loss_required", "volume_cap"), "A stop-loss is required.")
    text, _ = correct_claims("Bought 0.1 lots of EURUSD.", TurnFacts(denials=(denial,)))
    assert text == ("Nothing was sent: the risk engine denied the order "
                    "(reason: stop_loss_required, volume_cap). A stop-loss is required.")


def test_correction_when_nothing_happened_then_says_nothing_was_sent_this_turn():
    assert correct_claims("I've closed your position.", TurnFacts())[0] == \
        "Nothing was sent to the broker in this conversation turn."


@pytest.mark.parametrize("status, fact", [
    ("rejected", "Nothing was sent: you rejected ticket tkt_1."),
    ("expired", "Nothing was sent: ticket tkt_1 expired before it was confirmed."),
    ("blocked", "Nothing was sent: ticket tkt_1 was stopped by the risk re-check at send time."),
])
def test_correction_when_ticket_not_sent_then_what_became_of_it(status, fact):
    assert correct_claims("Your order was executed.",
                          TurnFacts(tickets=(ticket(status),)))[0] == fact


def test_correction_keeps_honest_sentences_and_drops_further_false_claims():
    text, violation = correct_claims(
        "EURUSD bid is 1.1144. I've placed your order. It is filled! Good luck.",
        TurnFacts(tickets=(ticket(),)))
    assert text == ("EURUSD bid is 1.1144. Nothing was sent: ticket tkt_1 waits for your "
                    "confirmation. Good luck.")
    assert len(violation.claims) == 2 and violation.original.startswith("EURUSD bid is")


def test_claim_when_this_turn_filled_it_then_text_unchanged():
    facts = TurnFacts(tickets=(ticket("sent", "filled"),))
    for text in ("Done: your order is placed and filled.", "Bought 0.1 lots of EURUSD.",
                 "Your order went through."):
        assert correct_claims(text, facts) == (text, None)


def test_claim_when_fill_differs_from_what_was_sent_then_corrected():
    placed = TurnFacts(tickets=(ticket("sent", "placed"),))  # a pending order, not a fill
    assert correct_claims("Your limit order is placed.", placed)[1] is None
    assert correct_claims("Your order is filled.", placed)[1] is not None
    filled = TurnFacts(tickets=(ticket("sent", "filled"),))
    assert correct_claims("Sold 0.1 lots of EURUSD.", filled)[1] is not None  # side
    assert correct_claims("Bought 0.1 GBPUSD.", filled)[1] is not None  # symbol
    assert correct_claims("Your position was closed.", filled)[1] is not None  # kind
    rejected = TurnFacts(tickets=(ticket("sent", "rejected"),))
    text, _ = correct_claims("Your order is filled.", rejected)
    assert text == "Ticket tkt_1 was sent (open BUY 0.1 EURUSD), but the broker did not fill it."


def test_claim_when_turn_quiet_then_earlier_send_or_reading_backs_a_report():
    earlier = TurnFacts(earlier=(ticket("sent", "filled", id="tkt_0"),))
    assert correct_claims("Your EURUSD buy was filled.", earlier)[1] is None
    reading = TurnFacts(readings=('[{"ticket": 4521, "symbol": "GBPUSD"}]',))
    assert correct_claims("You bought 0.1 lots of GBPUSD (position #4521).", reading)[1] is None
    assert correct_claims("Done, bought 0.1 lots.", reading)[1] is not None  # names nothing
    busy = TurnFacts(tickets=(ticket(),), earlier=earlier.earlier)
    assert correct_claims("Your order is filled.", busy)[1] is not None
    assert correct_claims("Your EURUSD buy was filled earlier.", busy)[1] is None


_WORDS = st.sampled_from(
    "EURUSD GBPUSD bid ask spread is at the trend RSI EMA20 H1 your stop-loss risk engine "
    "ticket order position account equity margin lots 0.10 1.1144 12:00 UTC and but not "
    "will you I we it Nothing nothing rejected approved denied waits confirmation".split())


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_WORDS, st.sampled_from([" ", " ", ", ", ". ", "! ", "? ", "\n"])),
                max_size=40),
       st.sampled_from([TurnFacts(), TurnFacts(tickets=(ticket(),)),
                        TurnFacts(denials=(Denial(("volume_cap",)),))]))
def test_text_without_claim_words_is_never_changed(pairs, facts):
    text = "".join(w + sep for w, sep in pairs)
    assert correct_claims(text, facts) == (text, None)


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_without_claim_words_is_never_changed(text):
    if CLAIM_WORDS.search(text):
        return
    assert find_claims(text) == []
    assert correct_claims(text, TurnFacts(tickets=(ticket(),))) == (text, None)


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8), max_size=30))
def test_stream_guard_shows_a_prefix_and_loses_nothing(tokens):
    guard, shown = StreamGuard(), ""
    for token in tokens:
        shown += guard.feed(token)
        assert guard.text.startswith(shown)
    assert shown + guard.release() == "".join(tokens)


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([c for c, _ in CLAIMS] + HONEST + [
    "Yes, it went through: your order was filled.", "If you confirm, it is sent at once.",
    "I proposed it; once approved it is placed."]), min_size=1, max_size=5),
    st.sampled_from([" ", "\n", "\n\n"]), st.lists(st.integers(1, 9), min_size=1))
def test_stream_guard_never_shows_a_word_of_a_claim_sentence(said, sep, cuts):
    text, shown, i = sep.join(said), "", 0
    guard = StreamGuard()
    while i < len(text):
        n = cuts[i % len(cuts)]
        shown += guard.feed(text[i:i + n])
        i += n
    claims = [start for start, end in sentences(text) if claim_in(text[start:end])]
    assert not claims or len(shown) <= claims[0], (shown, text)


def test_stream_guard_when_sentence_claims_then_it_is_held_until_the_check():
    guard = StreamGuard()
    words = ["EURUSD", " bid", " is", " 1.1144.", " Done,", " your", " order", " is",
             " filled.", " Bye."]
    shown = "".join(guard.feed(w) for w in words)
    assert shown == "EURUSD bid is 1.1144. " and guard.blocked
    assert "filled" in guard.held


def test_stream_guard_when_claim_word_is_negated_then_sentence_shown_once_complete():
    guard = StreamGuard()
    shown = "".join(guard.feed(w) for w in ["Nothing", " was", " sent.", " Confirm", " it."])
    assert shown == "Nothing was sent. " and not guard.blocked
    assert guard.release() == "Confirm it."  # the last sentence: released after the check


def feed_words(guard: StreamGuard, text: str) -> list[str]:
    """What the guard shows after each word of `text`, streamed as the scripted models do."""
    words = text.split(" ")
    return [guard.feed(w if i == 0 else " " + w) for i, w in enumerate(words)]


def test_stream_guard_when_asked_after_a_rejection_then_no_word_of_the_claim_shows():
    guard = StreamGuard()
    shown = feed_words(guard, "Yes, it went through: your order was filled. You have no open "
                              "positions.")
    assert "".join(shown) == "" and guard.blocked  # not even "Yes, "
    assert guard.held.startswith("Yes, it went through")


def test_stream_guard_when_prose_then_each_sentence_shows_once_it_ends():
    guard = StreamGuard()
    shown = feed_words(guard, "EURUSD bid is 1.1144 and rising. The trend is up on H1.\nRSI 55.")
    assert shown[:6] == [""] * 6  # "1.1144" is no sentence end; "rising." is, once " The" comes
    assert shown[6] == "EURUSD bid is 1.1144 and rising. "
    assert "".join(shown) == "EURUSD bid is 1.1144 and rising. The trend is up on H1.\n"
    assert guard.release() == "RSI 55."


@pytest.mark.parametrize("text", [
    "If you confirm the ticket, your order will be placed at 1.1144 or better",
    "I proposed a buy of 0.1 EURUSD that waits for your confirmation and then is sent",
])
def test_stream_guard_when_sentence_start_rules_out_a_claim_then_words_stream(text):
    guard = StreamGuard()
    shown = feed_words(guard, text)
    assert "".join(shown) == text.rsplit(" ", 1)[0] + " "
    assert sum(bool(s) for s in shown) >= len(shown) // 2


@pytest.mark.parametrize("text", [
    'functions.quote(symbol="EURUSD")',
    'functions.analyze(symbol="EURUSD", timeframe="H1")\nfunctions.analyze(symbol="EURUSD", '
    'timeframe="H4")',
    '<tool_call>\n{"name": "propose_order", "arguments": {"symbol": "EURUSD", "side": "buy", '
    '"volume": 0.1}}\n</tool_call>',
    '{"name": "quote", "arguments": {"symbol": "EURUSD"}}',
])
def test_stream_guard_when_message_is_a_text_tool_call_then_nothing_shows(text):
    guard = StreamGuard()
    assert "".join(guard.feed(c) for c in text) == "" and guard.may_be_call
    assert guard.release() == text


def test_stream_guard_when_prose_starts_like_a_call_then_it_streams():
    guard = StreamGuard()
    shown = feed_words(guard, "RSI(14) is 55. Trend up.")
    assert not guard.may_be_call and "".join(shown) == "RSI(14) is 55. "


# -- in the graph -----------------------------------------------------------------------------

def corrections(c) -> list[dict]:
    return c.journal.rows("claim_corrections")


async def state_messages(c, thread: str) -> list:
    state = await c.service.graph.aget_state({"configurable": {"thread_id": thread}})
    return state.values["messages"]


async def streamed_text(c, thread: str, text: str) -> tuple[str, list]:
    """What a streaming channel shows: tokens, then every message."""
    events = [e async for e in c.service.stream(thread, text)]
    return "".join(e.text for e in events if e.kind == "token"), events


async def test_fill_claim_when_ticket_pending_then_trader_reads_ticket_waits_and_journaled(
        checked):
    model = sequence([reply("Done, your order is filled.", ("propose_order", BUY))])
    async with checked(model) as c:
        result = await c.service.send("t1", "buy 0.1 EURUSD, stop 1.1100, target 1.1220")
        ticket_id = result.ticket["id"]
        rows = corrections(c)
        messages = await state_messages(c, "t1")
        assert c.journal.rows("orders") == []
    assert result.text == f"Nothing was sent: ticket {ticket_id} waits for your confirmation."
    assert "filled" not in result.text
    [row] = rows
    assert (row["thread_id"], row["kinds"], row["claims"]) == (
        "t1", ["send"], ["Done, your order is filled."])
    assert row["original"] == "Done, your order is filled." and row["corrected"] == result.text
    [proposing] = [m for m in messages if isinstance(m, AIMessage) and m.tool_calls]
    assert proposing.content == result.text  # replaced in place: same id, tool call kept
    assert proposing.tool_calls[0]["name"] == "propose_order"
    assert proposing.additional_kwargs["claim_corrected"]["id"] == row["id"]
    assert row["message_id"] == proposing.id


async def test_fill_claim_when_denied_then_trader_reads_denial_reason(checked):
    model = sequence([reply("", ("propose_order", NO_STOP)),
                      reply("Checked the market. Done: bought 0.1 lots of EURUSD.")])
    async with checked(model) as c:
        shown, events = await streamed_text(c, "t1", "buy 0.1 EURUSD now, no stop")
        [row] = corrections(c)
    [message] = [e for e in events if e.kind == "message"]
    assert message.text.startswith("Checked the market. Nothing was sent: the risk engine "
                                   "denied the order (reason: stop_loss_required). ")
    assert message.data["claim_corrected"]["kinds"] == ["open"]
    assert "bought" not in shown.lower()  # the streamed tokens never showed the claim
    assert "(reason: stop_loss_required)." in row["fact"]
    assert row["facts"]["denials"] == [["stop_loss_required"]]


async def test_claim_when_nothing_proposed_then_nothing_was_sent_this_turn(checked):
    model = sequence([reply("I've closed your EURUSD position.")])
    async with checked(model) as c:
        result = await c.service.send("t1", "close my EURUSD trade")
        assert len(corrections(c)) == 1
    assert result.text == "Nothing was sent to the broker in this conversation turn."


async def test_honest_model_when_proposing_then_text_unchanged_and_nothing_journaled(checked):
    said = "I proposed the order; it will be placed once you confirm the ticket."
    model = sequence([reply(said, ("propose_order", BUY))])
    async with checked(model) as c:
        shown, events = await streamed_text(c, "t1", "buy 0.1 EURUSD, stop 1.1100")
        assert corrections(c) == []
        messages = await state_messages(c, "t1")
    assert shown == said
    assert not [e for e in events if e.kind == "message"]  # a proposal's text is tokens only
    assert any(isinstance(m, AIMessage) and m.content == said for m in messages)


async def test_honest_answer_when_quote_asked_then_streamed_word_by_word_unchanged(checked):
    def quote_then_answer(messages):
        results = [m for m in messages if isinstance(m, ToolMessage)]
        return reply(f"EURUSD bid is {results[-1].content[:5]}. Nothing was sent.") if results \
            else reply("", ("quote", {"symbol": "EURUSD"}))

    async with checked(quote_then_answer) as c:
        shown, events = await streamed_text(c, "t1", "price of EURUSD?")
        assert corrections(c) == []
    [message] = [e for e in events if e.kind == "message"]
    assert shown == message.text and message.data["streamed"]
    assert sum(e.kind == "token" for e in events) >= 2


async def test_real_fill_when_confirmed_then_respond_and_later_report_unchanged(checked):
    model = sequence([reply("I proposed it.", ("propose_order", BUY)),
                      reply("Your EURUSD buy was filled.")])
    async with checked(model) as c:
        proposed = await c.service.send("t1", "buy 0.1 EURUSD, stop 1.1100, target 1.1220")
        done = await c.service.resolve_ticket(proposed.ticket["id"], "approve", by="test")
        later = await c.service.send("t1", "did it go through?")
        assert [o["outcome"] for o in c.journal.rows("orders")] == ["filled"]
        assert corrections(c) == []
    assert done.text.startswith(f"Filled: ticket {proposed.ticket['id']}, 0.10 lots at ")
    assert later.text == "Your EURUSD buy was filled."


async def test_fill_claiming_bad_agent_when_wired_then_every_claim_corrected():
    from evals.harness import model_authored, run_scenario
    from evals.scenario import load_scenarios
    from evals.targets import bad_target

    [scenario] = load_scenarios(ids=("confirm-reject-sends-nothing",))
    run = await run_scenario(scenario, bad_target("claims_fill"))
    written = [m for m in run.messages if model_authored(m)]
    assert run.crashed is None and run.orders == []
    assert [m.additional_kwargs["claim_corrected"]["kinds"] for m in written
            if "claim_corrected" in m.additional_kwargs] == [["send"]]
    assert not [s for m in written for s in find_claims(str(m.content))]
    assert not any(re.search(r"\bfilled\b", str(m.content)) for m in written)


def test_journal_when_opened_then_claim_corrections_table_exists(tmp_path):
    journal = Journal(tmp_path / "j.db")
    try:
        assert journal.schema_version >= 3
        assert "claim_corrections" in journal.db.table_names()
    finally:
        journal.close()
