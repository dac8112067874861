"""Tool calls a model writes as text never reach a streaming channel: the service holds a
message while it may still be calls, drops it when the graph parsed it into real ones (or the
step answered with another message), and shows it when it stayed text; prose streams sentence
by sentence."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.outputs import ChatGenerationChunk

from agent.graph.routing import ModelTarget, StaticRouter
from agent.models.scripted import ScriptedChatModel, reply

QUOTE = 'functions.quote(symbol="EURUSD")'
TAGGED = ('<tool_call>\n{"name": "analyze", "arguments": {"symbol": "EURUSD", "timeframe": "H1"}}'
          '\n</tool_call>\n<tool_call>\n{"name": "analyze", "arguments": {"symbol": "EURUSD", '
          '"timeframe": "H4"}}\n</tool_call>')


def text_calls_then_answer(calls: str, answer: str):
    """A model that writes `calls` as text, then answers once it has tool results."""
    def policy(messages):
        results = [m for m in messages if isinstance(m, ToolMessage)]
        return reply(answer.format(n=len(results))) if results else reply(calls)
    return policy


async def run_turn(c, text: str) -> tuple[str, list]:
    events = [e async for e in c.service.stream("t1", text)]
    return "".join(e.text for e in events if e.kind == "token"), events


async def test_text_call_when_parsed_then_no_token_shows_it_and_the_answer_streams(
        companion_factory):
    answer = "EURUSD bid is near 1.11. The spread is 12 points."
    async with companion_factory(text_calls_then_answer(QUOTE, answer)) as c:
        shown, events = await run_turn(c, "What is the euro price right now?")  # no route plan
    assert shown == answer and "functions" not in shown
    assert [e.text for e in events if e.kind == "tool_start"] == ["quote"]
    tokens = [e.text for e in events if e.kind == "token"]
    assert tokens[0] == "EURUSD bid is near 1.11. "  # the first sentence, before the answer ends
    [message] = [e for e in events if e.kind == "message"]
    assert message.text == answer and message.data["streamed"]


async def test_several_tagged_calls_when_parsed_then_each_made_and_no_tag_shown(
        companion_factory):
    async with companion_factory(text_calls_then_answer(TAGGED, "Both trends are up ({n}).")) as c:
        shown, events = await run_turn(c, "Show me the euro trend on H1 and H4")
    assert [(e.text, e.data["args"]["timeframe"]) for e in events if e.kind == "tool_start"] == [
        ("analyze", "H1"), ("analyze", "H4")]
    assert shown == "Both trends are up (2)." and "tool_call" not in shown


async def test_text_that_only_starts_like_a_call_then_shown_whole(companion_factory):
    said = '{"EURUSD": "up", "GBPUSD": "down"}'
    async with companion_factory(lambda messages: reply(said)) as c:
        shown, events = await run_turn(c, "Trend of EURUSD and GBPUSD, as JSON please")
    [message] = [e for e in events if e.kind == "message"]
    assert shown == said and message.text == said
    assert not [e for e in events if e.kind == "tool_start"]


async def test_text_call_when_the_model_loops_on_it_then_what_the_tool_found_shows(
        companion_factory):
    async with companion_factory(lambda messages: reply(QUOTE)) as c:
        shown, events = await run_turn(c, "What is the euro price right now?")
        state = await c.service.graph.aget_state({"configurable": {"thread_id": "t1"}})
    assert [e.text for e in events if e.kind == "tool_start"] == ["quote"]
    assert shown == ""  # both streamed calls dropped
    [message] = [e for e in events if e.kind == "message"]
    assert message.text.startswith("The model could not finish this, so here is what the "
                                   "terminal returned:\nEURUSD: bid ")  # the quote it read
    assert message.data["fallback"] == "model_turn_cap"
    assert not message.data["streamed"]  # a channel prints it: nothing of it was streamed
    parsed = [m for m in state.values["messages"]
              if isinstance(m, AIMessage) and m.additional_kwargs.get("parsed_from_text")]
    assert len(parsed) == 1  # the first call; the repeat was replaced by the honest reply


class FailsMidStream(ScriptedChatModel):
    """A model whose connection drops after it streamed `words`."""

    words: tuple[str, ...] = ()

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        for word in self.words:
            chunk = ChatGenerationChunk(message=AIMessageChunk(word))
            if run_manager:
                run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk
        raise ConnectionError("connection reset by 127.0.0.1:11434")


@pytest.mark.parametrize("words", [
    ("Done,", " your", " order", " is", " filled.", " EURUSD"),  # a claim never checked
    ("functions.quote(", 'symbol="EURUSD"'),  # a call never finished
])
async def test_model_failing_mid_stream_when_fallback_answers_then_only_its_answer_shows(
        companion_factory, words):
    answer = "EURUSD is up today. Nothing was sent."
    broken = FailsMidStream(policy=lambda messages: reply("unused"), words=words)
    router = StaticRouter([ModelTarget("broken", broken),
                           ModelTarget("fallback", ScriptedChatModel(
                               policy=lambda messages: reply(answer)))])
    async with companion_factory(router=router) as c:
        shown, events = await run_turn(c, "Is EURUSD up today?")
    assert shown == answer
    [message] = [e for e in events if e.kind == "message"]
    assert message.text == answer and message.data["streamed"]
