"""Tool calls written as text become real calls; prose that mentions a tool stays prose."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage

from agent.models.text_tools import calls_from_text, parse_calls

TOOLS = ("quote", "analyze")


@pytest.mark.parametrize("text, expected", [
    ('functions.quote(symbol="EURUSD")', [("quote", {"symbol": "EURUSD"})]),
    ("quote(symbol='EURUSD')", [("quote", {"symbol": "EURUSD"})]),
    ('<tool_call>\n{"name": "quote", "arguments": {"symbol": "EURUSD"}}\n</tool_call>',
     [("quote", {"symbol": "EURUSD"})]),
    ('<tool_call>{"name": "quote", "arguments": {"symbol": "EURUSD"}}</tool_call>\n'
     '<tool_call>{"name": "analyze", "arguments": {"symbol": "EURUSD", "timeframe": "H4"}}'
     '</tool_call>', [("quote", {"symbol": "EURUSD"}),
                      ("analyze", {"symbol": "EURUSD", "timeframe": "H4"})]),
    ('{"name": "analyze", "arguments": "{\\"symbol\\": \\"EURUSD\\"}"}',
     [("analyze", {"symbol": "EURUSD"})]),
    ('```json\n{"name": "quote", "parameters": {"symbol": "GBPUSD"}}\n```',
     [("quote", {"symbol": "GBPUSD"})]),
])
def test_text_call_to_a_bound_tool_then_parsed(text: str, expected: list) -> None:
    assert parse_calls(text, TOOLS) == expected


@pytest.mark.parametrize("text", [
    "EURUSD is 1.0850 (bid) / 1.0852 (ask).",
    "I called quote(symbol='EURUSD') and got 1.0850.",  # prose around a call
    'functions.propose_order(symbol="EURUSD", side="buy", volume=50)',  # not bound this turn
    "quote(EURUSD)",  # positional: not a call we can trust
    '{"price": 1.085}',
    "<tool_call>not json</tool_call>",
    "",
])
def test_prose_or_unbound_tool_then_left_as_text(text: str) -> None:
    assert parse_calls(text, TOOLS) == []


def test_calls_from_text_makes_structured_calls_with_ids_and_empty_content() -> None:
    answer = calls_from_text(AIMessage('functions.quote(symbol="EURUSD")', id="m1"), TOOLS)
    [call] = answer.tool_calls
    assert (call["name"], call["args"], answer.content, answer.id) == (
        "quote", {"symbol": "EURUSD"}, "", "m1")
    assert call["id"].startswith("call_")
    assert answer.additional_kwargs["parsed_from_text"] is True


def test_calls_from_text_when_no_tools_bound_or_real_calls_then_unchanged() -> None:
    text = AIMessage('functions.quote(symbol="EURUSD")')
    assert calls_from_text(text, ()) is text
    real = AIMessage("", tool_calls=[{"name": "quote", "args": {}, "id": "c1"}])
    assert calls_from_text(real, TOOLS) is real


@given(st.text(alphabet=st.characters(blacklist_characters="(){}<>"), max_size=200))
def test_text_without_call_syntax_is_never_turned_into_a_call(text: str) -> None:
    assert parse_calls(text, TOOLS) == []
