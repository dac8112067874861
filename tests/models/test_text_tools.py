"""Tool calls written as text become real calls; prose that mentions a tool stays prose; while a
reply streams, text that may still become calls is held and prose is not."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage

from agent.models.text_tools import calls_from_text, may_be_calls, parse_calls

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
    ('functions.analyze(symbol="EURUSD", timeframe="H1")\n'
     'functions.analyze(symbol="EURUSD", timeframe="H4")',
     [("analyze", {"symbol": "EURUSD", "timeframe": "H1"}),
      ("analyze", {"symbol": "EURUSD", "timeframe": "H4"})]),
    ('quote(\n    symbol="EURUSD",\n)\n\nanalyze(symbol="EURUSD", note="a) b")',
     [("quote", {"symbol": "EURUSD"}), ("analyze", {"symbol": "EURUSD", "note": "a) b"})]),
    ('[{"name": "quote", "arguments": {"symbol": "EURUSD"}}, {"name": "analyze", "arguments": '
     '{"symbol": "EURUSD"}}]',
     [("quote", {"symbol": "EURUSD"}), ("analyze", {"symbol": "EURUSD"})]),
    ('<tool_call>\nquote(symbol="EURUSD")\nanalyze(symbol="EURUSD")\n</tool_call>',
     [("quote", {"symbol": "EURUSD"}), ("analyze", {"symbol": "EURUSD"})]),
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
    'functions.quote(symbol="EURUSD")\nThat gives the price.',  # a call, then prose
    'quote(symbol="EURUSD")\nfunctions.propose_order(symbol="EURUSD", side="buy", volume=1)',
    'quote(symbol="EURUSD") quote(symbol="GBPUSD")',  # two on one line
    "quote(**{'symbol': 'EURUSD'})",
    '[{"name": "quote", "arguments": {}}, "and more"]',
    "[]",
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


# -- while a reply streams --------------------------------------------------------------------

SYMBOLS = st.sampled_from(["EURUSD", "GBPUSD", "XAUUSD", "a) \\\" b", "it's"])
ARGS = st.dictionaries(st.sampled_from(["symbol", "timeframe", "bars"]),
                       st.one_of(SYMBOLS, st.integers(0, 500), st.floats(0, 2)), max_size=3)
CALLS = st.lists(st.tuples(st.sampled_from(TOOLS), ARGS), min_size=1, max_size=3)


def _python(calls, prefix, sep) -> str:
    return "\n".join(f"{prefix}{name}({sep.join(f'{k}={v!r}' for k, v in args.items())})"
                      for name, args in calls)


def _json(name, args, key) -> str:
    return json.dumps({"name": name, key: args})


@st.composite
def call_texts(draw) -> str:
    """Calls as small models write them: every form `parse_calls` reads."""
    calls = draw(CALLS)
    form = draw(st.sampled_from(["python", "tagged", "json", "list", "fenced"]))
    key = draw(st.sampled_from(["arguments", "parameters"]))
    if form == "python":
        text = _python(calls, draw(st.sampled_from(["", "functions."])),
                       draw(st.sampled_from([", ", ",\n    "])))
    elif form == "tagged":
        close = draw(st.sampled_from(["</tool_call>", ""]))
        text = "\n".join(f"<tool_call>\n{_json(n, a, key)}\n{close}" for n, a in calls)
        text = text if close else text.split("\n<tool_call>")[0]  # an unclosed tag ends it
    elif form == "list":
        text = json.dumps([{"name": n, key: a} for n, a in calls], indent=draw(st.sampled_from(
            [None, 2])))
    elif form == "fenced":
        lang = draw(st.sampled_from(["", "json", "python"]))
        body = _python(calls, "", ", ") if lang == "python" else _json(*calls[0], key)
        text = f"```{lang}\n{body}\n```"
    else:
        text = _json(*calls[0], key)
    return draw(st.sampled_from(["", "\n", "  "])) + text + draw(st.sampled_from(["", "\n"]))


@hsettings(max_examples=300, deadline=None)
@given(call_texts())
def test_while_calls_stream_then_every_prefix_is_held(text: str) -> None:
    assert parse_calls(text, TOOLS)
    held = [may_be_calls(text[:n]) for n in range(len(text) + 1)]
    assert all(held), repr(text[:held.index(False)])


@hsettings(max_examples=300, deadline=None)
@given(call_texts(), st.integers(0, 200), st.text(max_size=20), st.sampled_from(["", ")", "\n"]))
def test_once_a_text_is_released_as_prose_it_never_parses_as_calls(
        text: str, cut: int, junk: str, more: str) -> None:
    start = text[:cut] + junk
    if not may_be_calls(start):
        for rest in ("", more, text[cut:], more + text[cut:]):
            assert parse_calls(start + rest, TOOLS) == []


@pytest.mark.parametrize("text", [
    "EURUSD is 1.0850 ", "Sure! ", "RSI(14) is 55", "[Update] EURUSD", "{price",
    "quote(symbol='EURUSD') returned 1.0850", "I called quote(symbol='EURUSD').",
    '{"price": 1.085} is what', "<b>Note</b>", "```mql5\nint x;", "1.0850 ",
])
def test_prose_when_streaming_then_not_held(text: str) -> None:
    assert not may_be_calls(text)


@pytest.mark.parametrize("text", [
    "", "EURUSD", "functions", "functions.quo", 'functions.quote(symbol="EUR', "quote(\n",
    "<tool", "<tool_call>\n{", '<tool_call>{"name": "quote"}</tool', "`", "```js", '{"na',
    "[", '[{"name"', 'quote(symbol="EURUSD")\n', 'quote(symbol="EURUSD")\nanaly',
])
def test_start_of_a_call_when_streaming_then_held(text: str) -> None:
    assert may_be_calls(text)
