"""The graph's node names, in one place: `build_graph` wires them, the service reads the
stream by them (`langgraph_node`, update keys), tests and evals look nodes up by them."""

from __future__ import annotations

ROUTE = "route"
COMMAND = "command"
ASSISTANT = "assistant"
TOOLS = "tools"
RISK_GATE = "risk_gate"
CHECK_CLAIMS = "check_claims"
CONFIRM = "confirm"
EXECUTE = "execute"
RESPOND = "respond"
ARCHIVE = "archive"
#: LangGraph's key for a run's interrupts (in `updates` stream chunks and pending writes).
INTERRUPT = "__interrupt__"
