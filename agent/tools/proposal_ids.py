"""The id of the tool message that hands a proposal to the risk gate (`proposal-<call id>`):
made by the proposing tools and commands, recognised by the graph's memory and the service."""

from __future__ import annotations

PREFIX = "proposal-"


def proposal_id(tool_call_id: str) -> str:
    """The hand-off message's id for the tool call `tool_call_id`."""
    return f"{PREFIX}{tool_call_id}"


def is_proposal_id(message_id: str | None) -> bool:
    """True for the id of a proposal's hand-off message."""
    return (message_id or "").startswith(PREFIX)
