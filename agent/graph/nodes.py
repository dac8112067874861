"""Graph nodes, each built by a factory that takes its dependencies.

route -> (command | assistant <-> tools) -> risk_gate -> confirm -> execute -> respond.
Nodes return only the keys they change. Only `execute` holds the order sender.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.types import interrupt

from agent.domain import CompanionError
from agent.events import EventType
from agent.graph.context import GraphDeps
from agent.graph.guards import (
    alert_set,
    as_stated,
    checked,
    gave_up,
    unusable,
    with_figures,
)
from agent.graph.intents import (
    CLASSIFY_PROMPT,
    Intent,
    Route,
    general_route,
    parse_intent,
    route_by_rules,
    tools_for,
)
from agent.graph.memory import model_window
from agent.graph.prompts import NO_MODEL_HINT, intent_prompt, prompt_hash
from agent.graph.render import render_command, render_decision, render_outcome
from agent.graph.routing import StaticRouter, ToolBinder, invoke_chain
from agent.graph.state import AgentState
from agent.models.selector import Task
from agent.models.text_tools import calls_from_text
from agent.tools.commands import is_command, parse_command
from agent.tools.proposal_ids import is_proposal_id, proposal_id

Node = Callable[..., dict[str, Any] | Awaitable[dict[str, Any]]]


def last_human_text(state: AgentState) -> str:
    for message in reversed(state["messages"]):
        if isinstance(message, HumanMessage):
            return str(message.content)
    return ""


def _earlier_words(state: AgentState, turns: int = 3) -> str:
    """The trader's messages before the last one (the last `turns`), newest first."""
    said = [str(m.content) for m in state["messages"] if isinstance(m, HumanMessage)]
    return "\n".join(reversed(said[-turns - 1:-1]))


def _turn_messages(state: AgentState) -> list:
    """Messages since the trader's last message."""
    messages = state["messages"]
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return messages[i + 1:]
    return list(messages)


def make_route(deps: GraphDeps) -> Node:
    symbols: frozenset[str] = frozenset()

    async def known() -> frozenset[str]:
        """The terminal's symbol names, read once (none while it cannot tell)."""
        nonlocal symbols
        if not symbols:
            try:
                symbols = frozenset(await asyncio.to_thread(deps.desk.broker.symbols))
            except CompanionError:
                return frozenset()
        return symbols

    async def route(state: AgentState) -> dict[str, Any]:
        """Pick the mode, intent, task and tools of this turn.

        Commands and turns without a model go to command mode. Otherwise the intent comes from
        the rules, a short follow-up keeps the previous one, and only what neither can tell is
        classified by the quick model. A coroutine, run on the event loop; the selector may
        read the journal, so a non-static router is asked from a worker thread.
        """
        text = last_human_text(state)
        previous = state.get("route")
        decided = route_by_rules(text, Route.from_dict(previous) if previous else None,
                                 context=_earlier_words(state), known=await known())
        if decided is not None and decided.intent is Intent.COMMAND:
            return _routed("command", decided)
        chain = await _targets(deps, (decided or general_route()).task)
        if not chain:
            return _routed("command", decided or general_route())
        return _routed("model", decided or await _classify(deps, text))
    return route


def _routed(mode: str, route: Route) -> dict[str, Any]:
    return {"mode": mode, "route": route.to_dict(), "gate_rounds": 0, "outcome": None,
            "decision": None, "proposals": None}


async def _targets(deps: GraphDeps, task: str) -> list:
    if isinstance(deps.router, StaticRouter):
        return deps.router.targets(task)
    return await asyncio.to_thread(deps.router.targets, task)


async def _classify(deps: GraphDeps, text: str) -> Route:
    """The quick model names the intent; anything unusable -> the general route."""
    chain = await _targets(deps, Task.QUICK_REPLY)
    if chain:
        try:
            answer, _ = await asyncio.to_thread(
                invoke_chain, chain, [SystemMessage(CLASSIFY_PROMPT), HumanMessage(text)], (),
                stream=False)
        except CompanionError:
            answer = None
        intent = parse_intent(str(answer.content)) if answer is not None else None
        if intent is not None:
            return Route(intent, tools_for(intent, text), "model")
    return general_route()


def make_command(deps: GraphDeps) -> Node:
    def command(state: AgentState) -> dict[str, Any]:
        """Run an explicit command; order commands go on to the risk gate."""
        text = last_human_text(state)
        if not is_command(text):
            return {"messages": [AIMessage(NO_MODEL_HINT)]}
        try:
            cmd = parse_command(text)
            if cmd.proposes_order:
                return {"proposals": [deps.commands.intent_for(cmd)]}
            data = deps.commands.run(cmd)
        except CompanionError as exc:
            return {"messages": [AIMessage(exc.message, additional_kwargs={"error": exc.code})]}
        return {"messages": [AIMessage(render_command(cmd.name, data),
                                       additional_kwargs={"command": cmd.name, "data": data})]}
    return command


def make_assistant(deps: GraphDeps, tools: list[BaseTool]) -> Node:
    by_name = {t.name: t for t in tools}
    binders: dict[tuple[str, ...], ToolBinder] = {}

    def binder(names: tuple[str, ...]) -> ToolBinder:
        bind = binders.get(names)
        if bind is None:
            bind = binders[names] = ToolBinder([by_name[n] for n in names if n in by_name])
        return bind

    def assistant(state: AgentState) -> dict[str, Any]:
        """The model of the turn's task, with the intent's tools bound, on a bounded window.

        The route's plan (read-only calls the trader's words fully name) is made first, without
        asking the model; the model then answers from the results. After a risk denial the
        model explains it with no tools bound (it cannot re-propose in the same turn). A call
        written as text is parsed into a real one; a call repeating one already answered this
        turn is not run again: the model is asked once more without tools.
        """
        turn, text, helps = _turn_messages(state), last_human_text(state), deps.plan_reads
        route = Route.from_dict(state.get("route"))
        if helps and route.ask and not turn:
            return {"messages": [AIMessage(route.ask, additional_kwargs={"question": "route"})]}
        if helps and route.plan and not any(isinstance(m, AIMessage) for m in turn):
            return {"messages": [planned_calls(route)]}
        if helps and (alert := alert_set(turn)):  # the rule, word for word
            return {"messages": [alert]}
        if sum(isinstance(m, AIMessage) for m in turn) >= deps.max_model_turns:
            return {"messages": [gave_up(turn, "model_turn_cap", helps)]}
        denied = (state.get("decision") or {}).get("approved") is False
        tools = () if denied else route.tools
        messages = [SystemMessage(intent_prompt(route.intent, route.tools)),
                    *model_window(state["messages"], archived=state.get("archived"))]
        chain = deps.router.targets(route.task)
        try:
            answer, target = invoke_chain(chain, messages, binder(tools))
            answer = calls_from_text(answer, tools)
            if helps:
                answer = as_stated(answer, text)
            if _repeats(answer, turn):
                answer, target = invoke_chain(chain, messages, (), stream=False)
                if answer.tool_calls or calls_from_text(answer, by_name).tool_calls:
                    answer = gave_up(turn, "model_turn_cap", helps)
        except CompanionError:
            return {"messages": [AIMessage(
                "No model answered just now, so I could not do that. Commands still work: "
                "try /help.", additional_kwargs={"error": "model_unavailable"})]}
        if denied and unusable(answer):
            answer = AIMessage(render_decision(state["decision"], None),
                               additional_kwargs={"error": "model_unusable"})
        else:
            answer = checked(answer, state, turn, text, helps)
        return {"messages": with_figures(answer, turn, text) if helps else [answer],
                "model": target.name}
    return assistant


def planned_calls(route: Route) -> AIMessage:
    """The route's planned read-only calls, made for the model."""
    return AIMessage("", tool_calls=[
        {"name": name, "args": args, "id": f"plan_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
        for name, args in route.plan], additional_kwargs={"planned": True})


def _repeats(answer: AIMessage, turn: list) -> bool:
    """True when every tool call of `answer` was already made, with the same arguments, in
    this turn (a small model looping on one tool)."""
    if not answer.tool_calls:
        return False
    made = {(c["name"], json.dumps(c["args"], sort_keys=True))
            for m in turn if isinstance(m, AIMessage) for c in m.tool_calls}
    return all((c["name"], json.dumps(c["args"], sort_keys=True)) in made
               for c in answer.tool_calls)


def make_risk_gate(deps: GraphDeps) -> Node:
    def risk_gate(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """Evaluate the first proposal on a fresh snapshot; approved -> a ticket."""
        first, *rest = state["proposals"]
        thread_id = config["configurable"]["thread_id"]
        route = Route.from_dict(state.get("route"))
        provenance = {"mode": state.get("mode"), "model": state.get("model"),
                      "prompt_hash": prompt_hash(intent_prompt(route.intent, route.tools)),
                      "request": last_human_text(state),
                      "tool_call_id": first.get("tool_call_id"),
                      "tool_outputs": [{"tool": m.name, "output": str(m.content)[:2000]}
                                       for m in _turn_messages(state)
                                       if isinstance(m, ToolMessage)
                                       and not is_proposal_id(m.id)]}
        ticket = None
        try:
            intent = deps.desk.intent_from(first)
            decision = deps.desk.evaluate(intent)
        except CompanionError as exc:
            decision_view = {"approved": False, "verdicts": [
                {"code": exc.code, "passed": False, "message": exc.message}]}
        else:
            if decision.approved:
                ticket = deps.tickets.mint(decision, intent, thread_id=thread_id,
                                           now=deps.clock(), ttl_s=deps.ticket_ttl_s,
                                           provenance=provenance)
                deps.publish(EventType.TICKET_PENDING, {"ticket": ticket.to_dict()})
            else:
                deps.tickets.record_denial(decision, intent, thread_id=thread_id,
                                           now=deps.clock(), provenance=provenance)
            decision_view = decision.to_dict()
        ticket_view = ({**ticket.to_dict(), "tool_call_id": first.get("tool_call_id"),
                        "verdicts": decision_view.get("verdicts", [])} if ticket else None)
        text = render_decision(decision_view, ticket_view)
        messages = []
        if first.get("tool_call_id"):
            messages.append(ToolMessage(text, name="propose_order",
                                        tool_call_id=first["tool_call_id"],
                                        id=proposal_id(first['tool_call_id'])))
        for other in rest:
            if other.get("tool_call_id"):
                messages.append(ToolMessage(
                    "Not submitted: propose one order at a time.",
                    tool_call_id=other["tool_call_id"], id=proposal_id(other['tool_call_id'])))
        return {"proposals": None, "decision": decision_view, "messages": messages,
                "ticket": ticket_view,
                "gate_rounds": state.get("gate_rounds", 0) + 1}
    return risk_gate


def make_confirm(deps: GraphDeps) -> Node:
    def confirm(state: AgentState) -> dict[str, Any]:
        """Wait for the trader's answer on this exact ticket, from any channel."""
        ticket = state["ticket"]
        answer = interrupt({"type": "ticket", "ticket": ticket})
        while not (isinstance(answer, dict) and answer.get("ticket_id") == ticket["id"]
                   and answer.get("decision") in ("approve", "reject")):
            answer = interrupt({"type": "ticket", "ticket": ticket,
                                "error": "That answer was not for this ticket."})
        by = str(answer.get("by", "unknown"))
        if answer["decision"] == "approve":
            return {"outcome": {"status": "approved", "by": by}}
        try:
            deps.tickets.reject(ticket["id"], by=by, now=deps.clock())
        except CompanionError as exc:
            return {"outcome": {"status": "refused", "code": exc.code, "message": exc.message}}
        deps.publish(EventType.TICKET_REJECTED, {"ticket_id": ticket["id"], "by": by})
        return {"outcome": {"status": "rejected", "by": by}}
    return confirm


def make_execute(deps: GraphDeps) -> Node:
    def execute(state: AgentState) -> dict[str, Any]:
        """Claim the ticket, re-check it on a fresh quote, send once, journal the result."""
        ticket = state["ticket"]
        outcome = deps.executor.execute(ticket["id"], expected_hash=ticket["order_hash"],
                                        by=state["outcome"].get("by", "unknown"))
        return {"outcome": outcome}
    return execute


def make_respond(deps: GraphDeps) -> Node:
    def respond(state: AgentState) -> dict[str, Any]:
        """Tell the trader what became of the proposal, in plain words, from the facts."""
        outcome, ticket = state.get("outcome"), state.get("ticket")
        if outcome is None:  # denied (or a gate error): the decision speaks
            text = render_decision(state.get("decision") or {}, None)
        else:
            text = render_outcome(outcome, ticket)
        messages: list = [AIMessage(text, additional_kwargs={
            "outcome": outcome, "ticket": ticket, "decision": state.get("decision")})]
        call_id = (ticket or {}).get("tool_call_id")
        if call_id and outcome is not None:  # keep the model's view of its proposal true
            messages.append(ToolMessage(text, tool_call_id=call_id, id=proposal_id(call_id)))
        return {"messages": messages, "ticket": None}
    return respond
