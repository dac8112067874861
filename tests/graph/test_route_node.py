"""The route node: rules first; the quick model only for what the rules cannot place."""

from __future__ import annotations

from langchain_core.messages import SystemMessage

from agent.graph.intents import CLASSIFY_PROMPT
from agent.models.scripted import reply


def classifier_and_answerer(messages):
    """Names an intent when asked to classify; otherwise answers plainly."""
    if isinstance(messages[0], SystemMessage) and messages[0].content == CLASSIFY_PROMPT:
        return reply("analysis")
    return reply("Noted.")


async def route_of(c, thread: str) -> dict:
    state = await c.service.graph.aget_state({"configurable": {"thread_id": thread}})
    return state.values["route"]


async def test_message_the_rules_cannot_place_then_the_quick_model_names_the_intent(
        companion_factory):
    async with companion_factory(classifier_and_answerer) as c:
        result = await c.service.send("t1", "I wonder about that thing from yesterday evening")
        route = await route_of(c, "t1")
    assert (route["intent"], route["by"], route["tools"]) == ("analysis", "model",
                                                              ["analyze", "sentiment"])
    assert result.text == "Noted."
    assert "analysis" not in result.text  # the classifier's word is never shown


async def test_rules_decide_without_asking_the_quick_model(companion_factory):
    asked = []

    def policy(messages):
        asked.append(messages[0].content)
        return classifier_and_answerer(messages)

    async with companion_factory(policy) as c:
        await c.service.send("t1", "Hello.")
        route = await route_of(c, "t1")
    assert (route["intent"], route["by"]) == ("chat", "rules")
    assert CLASSIFY_PROMPT not in asked
