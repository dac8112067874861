"""The graph's state: typed, with explicit reducers; nodes return only the keys they change.

Everything in the state is plain JSON-able data (dicts, lists, messages), so that the SQLite
checkpointer can persist a pending confirmation across restarts and processes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

Mode = Literal["model", "command"]


def merge_proposals(old: list[dict] | None, new: list[dict] | None) -> list[dict]:
    """Proposals accumulate within a step (parallel tool calls); `None` clears them."""
    if new is None:
        return []
    return [*(old or []), *new]


class InputState(TypedDict):
    """What a channel sends in: one message."""

    messages: Annotated[list[AnyMessage], add_messages]


class AgentState(InputState, total=False):
    mode: Mode
    route: dict[str, Any] | None  # intents.Route of the turn: intent, task, tools, decided by
    model: str | None  # the model that answered last, for provenance
    proposals: Annotated[list[dict[str, Any]], merge_proposals]
    decision: dict[str, Any] | None  # the last risk decision (every verdict)
    ticket: dict[str, Any] | None  # the ticket awaiting confirmation
    outcome: dict[str, Any] | None  # what became of the ticket
    gate_rounds: int  # risk-gate passes in this turn (bounds re-proposals)
    archived: dict[str, Any] | None  # memory.Archived: what is kept of turns moved to the
    # journal's archive (agent.graph.archive), so that the state stays bounded
