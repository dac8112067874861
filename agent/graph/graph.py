"""`build_graph`: all the wiring, on one screen."""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import AIMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.prebuilt.tool_node import ToolInvocationError

from agent.domain import CompanionError
from agent.graph import archive, nodes
from agent.graph.claims import make_check_claims
from agent.graph.context import GraphDeps
from agent.graph.names import (
    ARCHIVE,
    ASSISTANT,
    CHECK_CLAIMS,
    COMMAND,
    CONFIRM,
    EXECUTE,
    RESPOND,
    RISK_GATE,
    ROUTE,
    TOOLS,
)
from agent.graph.state import AgentState, InputState
from agent.tools.catalog import make_tools


def tool_error(error: Exception) -> str:
    """What the model reads when a tool fails: a domain error's sentence, a bad call's
    validation message; the turn goes on so the model can correct itself or explain."""
    if isinstance(error, CompanionError):
        return f"Error: {error.message}"
    if isinstance(error, ToolInvocationError):
        return error.message
    return f"Error: the tool failed ({type(error).__name__}). Do not retry it; tell the trader."


# Routers are pure and cheap, so they are coroutines: LangGraph runs a plain function in a
# worker thread, and that hop cost more than the routing itself.
async def after_route(state: AgentState) -> Literal["command", "assistant"]:
    return COMMAND if state["mode"] == "command" else ASSISTANT


def _end(state: AgentState) -> Literal["archive", "__end__"]:
    """A turn is over: a long thread moves its older turns to the archive first."""
    return ARCHIVE if archive.due(state) else END


async def after_command(state: AgentState) -> Literal["risk_gate", "archive", "__end__"]:
    return RISK_GATE if state.get("proposals") else _end(state)


async def after_assistant(state: AgentState) -> Literal["tools", "check_claims"]:
    last = state["messages"][-1]
    return TOOLS if isinstance(last, AIMessage) and last.tool_calls else CHECK_CLAIMS


async def after_tools(state: AgentState) -> Literal["risk_gate", "assistant"]:
    return RISK_GATE if state.get("proposals") else ASSISTANT


def make_after_gate(max_rounds: int):
    async def after_gate(state: AgentState) -> Literal["check_claims", "assistant", "respond"]:
        if state.get("ticket"):  # what the model said beside its proposal is checked first
            return CHECK_CLAIMS
        if state["mode"] == "model" and state.get("gate_rounds", 0) < max_rounds:
            return ASSISTANT  # the model explains the denial (and may propose less)
        return RESPOND
    return after_gate


async def after_check_claims(state: AgentState) -> Literal["confirm", "archive", "__end__"]:
    return CONFIRM if state.get("ticket") and state.get("outcome") is None else _end(state)


async def after_confirm(state: AgentState) -> Literal["execute", "respond"]:
    return EXECUTE if state["outcome"]["status"] == "approved" else RESPOND


def build_graph(deps: GraphDeps, checkpointer: BaseCheckpointSaver | None = None,
                ) -> CompiledStateGraph:
    """The companion's graph: model or command mode, risk gate, claims check, human
    confirmation, execute; a long thread's older turns archived when a turn ends.

    Run it with the async API (`astream`, `ainvoke`): its routers and route node are
    coroutines."""
    tools = make_tools(deps.desk)
    g = StateGraph(AgentState, input_schema=InputState)
    g.add_node(ROUTE, nodes.make_route(deps))
    g.add_node(COMMAND, nodes.make_command(deps))
    g.add_node(ASSISTANT, nodes.make_assistant(deps, tools))
    g.add_node(TOOLS, ToolNode(tools, handle_tool_errors=tool_error))
    g.add_node(RISK_GATE, nodes.make_risk_gate(deps))
    g.add_node(CONFIRM, nodes.make_confirm(deps))
    g.add_node(EXECUTE, nodes.make_execute(deps))
    g.add_node(RESPOND, nodes.make_respond(deps))
    g.add_node(CHECK_CLAIMS, make_check_claims(deps))
    g.add_node(ARCHIVE, archive.make_archive(deps))
    g.add_edge(START, ROUTE)
    g.add_conditional_edges(ROUTE, after_route)
    g.add_conditional_edges(COMMAND, after_command)
    g.add_conditional_edges(ASSISTANT, after_assistant)
    g.add_conditional_edges(TOOLS, after_tools)
    g.add_conditional_edges(RISK_GATE, make_after_gate(deps.max_gate_rounds))
    g.add_conditional_edges(CHECK_CLAIMS, after_check_claims)
    g.add_conditional_edges(CONFIRM, after_confirm)
    g.add_edge(EXECUTE, RESPOND)
    g.add_edge(RESPOND, CHECK_CLAIMS)
    g.add_edge(ARCHIVE, END)
    return g.compile(checkpointer=checkpointer)
