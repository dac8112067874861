"""A long thread's checkpoint stays bounded: older turns move to the journal's archive
(agent.graph.archive), their facts stay in the state (agent.graph.memory.compact), and the
model is sent the same window as with the whole thread."""

from __future__ import annotations

import itertools
import json
import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import BaseMessage, HumanMessage

from agent.graph.memory import STATE_TURNS, compact, compact_due, model_window
from evals.baseline import baseline_policy
from tests.graph.test_memory import (analysis_turn, filled_order_turn, quote_turn, size_turn,
                                     summary_of, threads, turns)

QUESTIONS = ("Give me an analysis of EURUSD on H1", "What is the EURUSD price?",
             "How many lots for EURUSD if I risk 1% with stop 1.1000?")
BUY = "Buy 0.1 lots EURUSD stop 1.1130 tp 1.1200"
MAX_STATE_MESSAGES = 12 * (STATE_TURNS + 1)  # a turn of the baseline is 4 to 9 messages


def grow_and_check(turn_list: list[list[BaseMessage]], *, keep: int = STATE_TURNS,
                   every: int = 1, horizon: int = 43, windows: dict | None = None):
    """Grow a thread turn by turn as the graph does, compacting when a turn ends; with
    `windows` (model_window's arguments), check at every message that the bounded state's
    window is the whole thread's. Returns (archive, state, archived)."""
    full: list[BaseMessage] = []
    archive: list[BaseMessage] = []
    state: list[BaseMessage] = []
    archived = None
    for turn in turn_list:
        for message in turn:
            full.append(message)
            state.append(message)
            if windows is not None:
                assert model_window(state, archived=archived, **windows) == \
                    model_window(full, **windows)
        if compact_due(state, keep=keep, every=every):
            moved = compact(state, archived, keep=keep, horizon=horizon)
            if moved is not None:
                archive += moved.moved
                state = state[len(moved.moved):]
                archived = json.loads(json.dumps(moved.archived))  # as the checkpoint keeps it
        assert [*archive, *state] == full
    return archive, state, archived


# -- the window of the bounded state is the window of the whole thread ----------------------

@st.composite
def turn_lists(draw) -> list[list[BaseMessage]]:
    messages, _ = draw(threads())
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    bounds = [0, *starts[1:], len(messages)] if starts else [0, len(messages)]
    return [messages[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(turn_lists(), st.integers(150, 5000), st.integers(1, 5), st.integers(0, 12),
       st.integers(0, 2), st.integers(1, 3))
def test_window_of_compacted_state_is_the_window_of_the_whole_thread(
        turn_list, max_tokens, keep_turns, fact_turns, slack, every):
    windows = {"max_tokens": max_tokens, "keep_turns": keep_turns, "fact_turns": fact_turns}
    grow_and_check(turn_list, keep=max(1, keep_turns - 1) + slack, every=every,
          horizon=keep_turns + fact_turns, windows=windows)


def test_compacted_state_when_200_turns_then_bounded_and_window_unchanged():
    makers = (analysis_turn, quote_turn, size_turn)
    turn_list = [filled_order_turn(), *(makers[i % 3]() for i in range(199))]
    archive, state, archived = grow_and_check(turn_list)
    assert sum(isinstance(m, HumanMessage) for m in state) == STATE_TURNS
    assert len(archive) + len(state) == 800 and archived["messages"] == len(archive)
    assert len(archived["facts"]) <= 10  # the latest per key: quote, analysis, sizes
    full = [m for turn in turn_list for m in turn]
    question = HumanMessage("What is the EURUSD price?", id="q201")
    window = model_window([*state, question], archived=archived)
    assert window == model_window([*full, question])
    assert "tkt_efbd527e9127" not in summary_of(window)  # the fill is 200 turns old


def test_compacted_state_when_fill_within_the_horizon_then_remembered():
    turn_list = [filled_order_turn(), *(quote_turn() for _ in range(30))]
    _, state, archived = grow_and_check(turn_list)
    window = model_window([*state, HumanMessage("and now?", id="q")], archived=archived)
    assert "ticket tkt_efbd527e9127 BUY 0.1 EURUSD SL 1.113 TP 1.12: filled" in \
        summary_of(window)


@given(turns(0))
def test_compact_when_state_holds_only_the_kept_turns_then_nothing_moves(turn):
    assert compact(turn) is None
    assert not compact_due(turn)


# -- the real graph ----------------------------------------------------------------------------

async def state_of(c, thread: str) -> dict:
    return (await c.service.graph.aget_state({"configurable": {"thread_id": thread}})).values


async def test_long_thread_then_checkpoint_bounded_and_archive_holds_every_message_in_order(
        companion_factory):
    asked = [QUESTIONS[i % 3] for i in range(14)]
    async with companion_factory(baseline_policy) as c:
        for i, question in enumerate(asked):
            await c.service.send("t", question)
            values = await state_of(c, "t")
            assert len(values["messages"]) <= MAX_STATE_MESSAGES, i
        whole = await c.service.thread_messages("t")
        rows = c.journal.rows("thread_messages", "thread_id = ?", ["t"], order_by="seq")
    assert [m.text for m in whole if isinstance(m, HumanMessage)] == asked
    assert sum(isinstance(m, HumanMessage) for m in values["messages"]) == STATE_TURNS
    assert whole[-len(values["messages"]):] == values["messages"]
    assert [r["seq"] for r in rows] == list(range(len(whole) - len(values["messages"])))
    assert len({m.id for m in whole}) == len(whole)
    question = HumanMessage("What is the EURUSD price?", id="next")
    assert model_window([*values["messages"], question], archived=values["archived"]) == \
        model_window([*whole, question])


async def test_pending_ticket_in_a_long_thread_survives_a_restart_and_resumes(
        companion_factory):
    async with companion_factory(baseline_policy) as c:
        for i in range(6):
            await c.service.send("t", QUESTIONS[i % 3])
        ticket = (await c.service.send("t", BUY)).ticket
        assert (await state_of(c, "t"))["archived"]["turns"] >= 4
    async with companion_factory(baseline_policy) as again:  # a new process, same files
        assert [t["id"] for t in await again.service.pending_tickets()] == [ticket["id"]]
        done = await again.service.resolve_ticket(ticket["id"], "approve", by="test")
        assert "Filled" in done.text and len(again.broker.positions()) == 1
        after = await again.service.send("t", "What is the EURUSD price?")
        values = await state_of(again, "t")
        whole = await again.service.thread_messages("t")
    assert after.text.startswith("EURUSD")
    assert len(values["messages"]) <= MAX_STATE_MESSAGES
    humans = [m.text for m in whole if isinstance(m, HumanMessage)]
    assert humans == [*(QUESTIONS[i % 3] for i in range(6)), BUY, "What is the EURUSD price?"]
    assert any(m.text.startswith("Filled") for m in whole)
    question = HumanMessage("next", id="n")
    window = model_window([*values["messages"], question], archived=values["archived"])
    assert window == model_window([*whole, question])
    assert any(ticket["id"] in m.text and "Filled" in m.text for m in window)  # its turn, kept


async def test_archive_when_journal_cannot_be_written_then_state_kept_whole_until_it_can(
        companion_factory, monkeypatch):
    async with companion_factory(baseline_policy) as c:
        write = c.journal.archive_messages

        def locked(*args, **kwargs):
            raise sqlite3.OperationalError("database is locked")
        monkeypatch.setattr(c.journal, "archive_messages", locked)
        for i in range(5):
            await c.service.send("t", QUESTIONS[i % 3])
        stuck = await state_of(c, "t")
        monkeypatch.setattr(c.journal, "archive_messages", write)
        await c.service.send("t", QUESTIONS[2])
        values = await state_of(c, "t")
        whole = await c.service.thread_messages("t")
    assert sum(isinstance(m, HumanMessage) for m in stuck["messages"]) == 5
    assert stuck.get("archived") is None
    assert sum(isinstance(m, HumanMessage) for m in values["messages"]) == STATE_TURNS
    assert [m.text for m in whole if isinstance(m, HumanMessage)] == \
        [*(QUESTIONS[i % 3] for i in range(5)), QUESTIONS[2]]
