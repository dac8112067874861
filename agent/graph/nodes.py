"""Graph nodes, each built by a factory that takes its dependencies.

route -> (command | assistant <-> tools) -> risk_gate -> confirm -> execute -> respond.
Nodes return only the keys they change. Only `execute` holds the order sender.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.types import interrupt

from agent.domain import CompanionError
from agent.events import EventType
from agent.tools.commands import is_command, parse_command
from agent.graph.claims import GRAPH_MARKERS
from agent.graph.context import GraphDeps
from agent.graph.grounding import results_text
from agent.graph.intents import (
    CLASSIFY_PROMPT, Intent, Route, general_route, numbers_in, parse_intent, route_by_rules,
    stated_order, tools_for)
from agent.graph.memory import model_window
from agent.graph.prompts import NO_MODEL_HINT, intent_prompt, prompt_hash
from agent.graph.render import render_command, render_decision, render_outcome
from agent.graph.routing import StaticRouter, ToolBinder, invoke_chain
from agent.graph.state import AgentState
from agent.models.selector import Task
from agent.models.text_tools import calls_from_text
from agent.tools.catalog import PROPOSAL_TOOLS
from agent.tools.proposal_ids import is_proposal_id, proposal_id

Node = Callable[..., dict[str, Any] | Awaitable[dict[str, Any]]]
GAVE_UP = ("I could not finish that request reliably. Please rephrase it, or use a command "
           "such as /price EURUSD or /buy EURUSD 0.10 sl 1.0750.")


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
        turn = _turn_messages(state)
        route = Route.from_dict(state.get("route"))
        if deps.plan_reads and route.ask and not turn:
            return {"messages": [AIMessage(route.ask, additional_kwargs={"question": "route"})]}
        if deps.plan_reads and route.plan and not any(isinstance(m, AIMessage) for m in turn):
            return {"messages": [planned_calls(route)]}
        if deps.plan_reads and (alert := _alert_set(turn)):  # the rule, word for word
            return {"messages": [alert]}
        if sum(isinstance(m, AIMessage) for m in turn) >= deps.max_model_turns:
            return {"messages": [_gave_up(turn, "model_turn_cap", deps.plan_reads)]}
        denied = (state.get("decision") or {}).get("approved") is False
        tools = () if denied else route.tools
        messages = [SystemMessage(intent_prompt(route.intent, route.tools)),
                    *model_window(state["messages"], archived=state.get("archived"))]
        chain = deps.router.targets(route.task)
        try:
            answer, target = invoke_chain(chain, messages, binder(tools))
            answer = calls_from_text(answer, tools)
            if deps.plan_reads:
                answer = _as_stated(answer, last_human_text(state))
            if _repeats(answer, turn):
                answer, target = invoke_chain(chain, messages, (), stream=False)
                if answer.tool_calls or calls_from_text(answer, by_name).tool_calls:
                    answer = _gave_up(turn, "model_turn_cap", deps.plan_reads)
        except CompanionError:
            return {"messages": [AIMessage(
                "No model answered just now, so I could not do that. Commands still work: "
                "try /help.", additional_kwargs={"error": "model_unavailable"})]}
        if not answer.tool_calls and (not _WORDS.search(str(answer.content))  # said nothing
                                      or _CALL_MARKUP.search(str(answer.content))):  # a call
            answer = AIMessage(render_decision(state["decision"], None), additional_kwargs={
                "error": "model_unusable"}) if denied else _salvaged(answer, turn, deps.plan_reads)
        elif guessed := _guessed_symbol(answer, state):
            answer = AIMessage(f"Which symbol do you mean? You did not name one, and I will not "
                               f"guess ({guessed} would be a guess).",
                               additional_kwargs={"error": "symbol_guessed"})
        elif deps.plan_reads and (question := _order_question(answer, state, turn)):
            answer = AIMessage(question, additional_kwargs={"question": "order"})
        elif level := _guessed_level(answer, state):
            answer = AIMessage(f"At what level should the {level} alert fire? You did not give "
                               f"one, and I will not pick it for you.",
                               additional_kwargs={"error": "level_guessed"})
        figures = _figures(turn, last_human_text(state)) if deps.plan_reads \
            and not answer.tool_calls and not GRAPH_MARKERS & set(answer.additional_kwargs) \
            else ""
        return {"messages": [answer, *([AIMessage(figures, additional_kwargs={
            "figures": True})] if figures else [])], "model": target.name}
    return assistant


def planned_calls(route: Route) -> AIMessage:
    """The route's planned read-only calls, made for the model."""
    return AIMessage("", tool_calls=[
        {"name": name, "args": args, "id": f"plan_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
        for name, args in route.plan], additional_kwargs={"planned": True})


#: A reply that says something has a letter or a digit ("[]" echoed from a tool says nothing).
_WORDS = re.compile(r"[^\W_]")
#: What is left of a call the parser could not use: tool tags, or JSON naming arguments.
_CALL_MARKUP = re.compile(r"</?tool(?:s|_call)>|\"(?:arguments|parameters)\"\s*:")


_PROSE_WORDS = 8  # prose before left-over call markup worth keeping


#: The analysis facts a question's words ask about (by the fact's first word).
_TOPICS = ((re.compile(r"\b(?:trend\w*|ema|sma|adx|direction)\b", re.I), ("Trend",)),
           (re.compile(r"\b(?:rsi|macd|stoch\w*|momentum|overbought|oversold)\b", re.I),
            ("Momentum",)),
           (re.compile(r"\b(?:atr|volatil\w*|range)\b", re.I), ("Volatility",)),
           (re.compile(r"\b(?:pivots?|supports?|resistances?|levels?)\b", re.I),
            ("Pivots", "Levels")))
_OVERVIEW = ("Trend", "Momentum", "Levels")


def _figures(turn: list, text: str) -> str:
    """The analysis figures this turn's question is about, as the analyzer stated them, for
    every analysis read this turn: the answer's numbers, whatever the model made of them."""
    wanted = tuple(w for pattern, words in _TOPICS if pattern.search(text) for w in words) \
        or _OVERVIEW
    lines = []
    for message in turn:
        if not (isinstance(message, ToolMessage) and message.name in ("analyze", "sentiment")):
            continue
        try:
            data = json.loads(str(message.content))
            if message.name == "sentiment":
                counts = data["counts"]
                lines.append(f"- News sentiment {data['label']}: mean polarity "
                             f"{data['mean_polarity']} over {counts['total']} headlines "
                             f"({counts['positive']} positive, {counts['negative']} negative).")
                continue
            facts = data["facts"]
        except (ValueError, KeyError, TypeError):
            continue
        lines += [f"- {fact}" for i, fact in enumerate(facts)
                  if i == 0 or str(fact).startswith(wanted)]
    return "Figures from the analysis:\n" + "\n".join(lines) if lines else ""


def _gave_up(turn: list, error: str, show_results: bool) -> AIMessage:
    """The answer when the model cannot finish: what this turn's tools found (when the graph
    helps the model: `models.plan_reads`), else an honest sentence."""
    found = results_text(turn) if show_results else ""
    if found:
        return AIMessage(f"The model could not finish this, so here is what the terminal "
                         f"returned:\n{found}", additional_kwargs={"fallback": error})
    return AIMessage(GAVE_UP, additional_kwargs={"error": error})


def _salvaged(answer: AIMessage, turn: list, show_results: bool) -> AIMessage:
    """An answer that is empty or trails call markup: its prose when there is some, else what
    the tools found, else an honest sentence."""
    text = str(answer.content)
    markup = _CALL_MARKUP.search(text)
    prose = text[:markup.start()].strip() if markup else ""
    if len(prose.split()) >= _PROSE_WORDS and "{" not in prose:
        return AIMessage(prose, additional_kwargs={**answer.additional_kwargs,
                                                   "trimmed": "call_markup"})
    return _gave_up(turn, "model_unusable", show_results)


def _as_stated(answer: AIMessage, text: str) -> AIMessage:
    """Order proposals carrying what the trader's own words state (symbol, side, lots, stop,
    target, limit price): the words win over the model's transcription, so the ticket is the
    order the trader gave."""
    stated = stated_order(text)
    if not stated or not any(c["name"] == "propose_order" for c in answer.tool_calls):
        return answer
    calls = [{**c, "args": {**c["args"], **stated}} if c["name"] == "propose_order" else c
             for c in answer.tool_calls]
    return answer.model_copy(update={"tool_calls": calls})


_NO_STOP = re.compile(r"\b(?:no|without(?: an?)?)\s+(?:stop|sl)\b", re.IGNORECASE)


def _order_question(answer: AIMessage, state: AgentState, turn: list) -> str | None:
    """What to ask before an order proposal the trader did not finish: the lots (unless they
    wrote the number, or the sizer worked it out this turn) and the stop-loss (unless they
    said they want none: then the risk engine explains why every order needs one)."""
    said: set[float] = set()
    for message in [m for m in state["messages"] if isinstance(m, HumanMessage)][-2:]:
        said |= numbers_in(str(message.content))
    sized = any(isinstance(m, ToolMessage) and m.name == "size_position" for m in turn)
    for call in answer.tool_calls:
        if call["name"] != "propose_order":
            continue
        args = call["args"]
        lots = sized or _number(args.get("volume")) in said
        stop = args.get("stop_loss") is not None or _NO_STOP.search(last_human_text(state))
        if not lots and not stop:
            return ("How many lots, and where should the stop-loss go? Every order needs "
                    "both (or tell me the % of equity to risk and the stop, and I will size it).")
        if not lots:
            return ("How many lots? You did not say, and I will not pick a size for you (or "
                    "tell me the % of equity to risk, and I will size it from your stop).")
        if not stop:
            return ("Where should the stop-loss go? Every order needs one, e.g. 'sl 1.1050' "
                    "or 'sl 20 pips'.")
    return None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _alert_set(turn: list) -> AIMessage | None:
    """After `set_alert` stored a rule: the rule as the watcher reads it, its id and how to
    cancel it (the trader must see the rule itself to catch a misread)."""
    last = turn[-1] if turn else None
    if not isinstance(last, ToolMessage) or last.name != "set_alert":
        return None
    try:
        alert = json.loads(str(last.content))
        rule, alert_id = alert["rule"], alert["id"]
    except (ValueError, KeyError, TypeError):  # refused: the model explains the refusal
        return None
    repeat = "every time, with a cooldown" if alert.get("mode") == "recurring" else "once"
    return AIMessage(f"Alert set: {rule}. It fires {repeat} (id {alert_id}); cancel it with "
                     f"/cancelalert {alert_id}.", additional_kwargs={"alert": alert_id})


def _guessed_level(answer: AIMessage, state: AgentState) -> str | None:
    """The symbol of a price, move, spread or P/L alert whose level the trader never gave (no
    number in their last two messages): the model picked it. None otherwise."""
    said: set[float] = set()
    for message in [m for m in state["messages"] if isinstance(m, HumanMessage)][-2:]:
        said |= numbers_in(str(message.content))
    for call in answer.tool_calls:
        if call["name"] == "set_alert" and not said \
                and call["args"].get("kind", "price") in ("price", "move", "spread", "pnl"):
            return str(call["args"].get("symbol", "")).upper() or "this"
    return None


def _guessed_symbol(answer: AIMessage, state: AgentState) -> str | None:
    """The symbol of a proposal the trader never named in this conversation (a small model
    assuming EURUSD for "Buy 0.1 lots"); None when every proposal's symbol was named."""
    said = " ".join(str(m.content) for m in state["messages"][-40:]
                    if isinstance(m, HumanMessage)).upper()
    for call in answer.tool_calls:
        symbol = str(call["args"].get("symbol", "")).upper() if call["name"] in PROPOSAL_TOOLS \
            else ""
        if symbol and symbol not in said:
            return symbol
    return None


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
