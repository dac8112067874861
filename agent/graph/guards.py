"""What the graph does around a model's answer before it stands as the turn's reply.

Guards, always on: a proposal for a symbol the trader never named, or an alert at a level the
trader never gave, becomes a question; a reply that is empty or left-over call markup becomes
an honest sentence (`GAVE_UP`). Help, on with `models.plan_reads` (the agent as the trader runs
it; model-only evals go without): an order proposal carries what the trader's own words state,
a missing size or stop is asked, a stored alert is confirmed with its rule, an analysis answer
ends with the analyzer's figures, and a model that cannot finish gives way to what the turn's
tools returned.
"""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agent.graph.claims import GRAPH_MARKERS
from agent.graph.grounding import numbers_in, results_text
from agent.graph.intents import own_words, stated_order
from agent.graph.render import render_command
from agent.graph.state import AgentState
from agent.tools.catalog import PROPOSAL_TOOLS

GAVE_UP = ("I could not finish that request reliably. Please rephrase it, or use a command "
           "such as /price EURUSD or /buy EURUSD 0.10 sl 1.0750.")


#: A reply that says something has a letter or a digit ("[]" echoed from a tool says nothing).
_SAYS_SOMETHING = re.compile(r"[^\W_]")
#: What is left of a call the parser could not use: tool tags, or JSON naming arguments.
_CALL_MARKUP = re.compile(r"</?tool(?:s|_call)>|\"(?:arguments|parameters)\"\s*:")


_PROSE_WORDS = 8  # prose before left-over call markup worth keeping


#: The analysis facts a question's words ask about (by the fact's first word).
_TOPICS = ((re.compile(r"\b(?:trend\w*|ema|sma|adx|direction)\b", re.IGNORECASE), ("Trend",)),
           (re.compile(r"\b(?:rsi|macd|stoch\w*|momentum|overbought|oversold)\b", re.IGNORECASE),
            ("Momentum",)),
           (re.compile(r"\b(?:atr|volatil\w*|range)\b", re.IGNORECASE), ("Volatility",)),
           (re.compile(r"\b(?:pivots?|supports?|resistances?|levels?)\b", re.IGNORECASE),
            ("Pivots", "Levels")))
_OVERVIEW = ("Trend", "Momentum", "Levels")


def figures(turn: list, text: str) -> str:
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
                lines.append(f"- {render_command('sentiment', data)}")
                continue
            facts = data["facts"]
        except (ValueError, KeyError, TypeError):
            continue
        lines += [f"- {fact}" for i, fact in enumerate(facts)
                  if i == 0 or str(fact).startswith(wanted)]
    return "Figures from the analysis:\n" + "\n".join(lines) if lines else ""


def gave_up(turn: list, error: str, show_results: bool) -> AIMessage:
    """The answer when the model cannot finish: what this turn's tools found (when the graph
    helps the model: `models.plan_reads`), else an honest sentence."""
    found = results_text(turn) if show_results else ""
    if found:
        return AIMessage(f"The model could not finish this, so here is what the terminal "
                         f"returned:\n{found}", additional_kwargs={"fallback": error})
    return AIMessage(GAVE_UP, additional_kwargs={"error": error})


def salvaged(answer: AIMessage, turn: list, show_results: bool) -> AIMessage:
    """An answer that is empty or trails call markup: its prose when there is some, else what
    the tools found, else an honest sentence."""
    text = str(answer.content)
    markup = _CALL_MARKUP.search(text)
    prose = text[:markup.start()].strip() if markup else ""
    if len(prose.split()) >= _PROSE_WORDS and "{" not in prose:
        return AIMessage(prose, additional_kwargs={**answer.additional_kwargs,
                                                   "trimmed": "call_markup"})
    return gave_up(turn, "model_unusable", show_results)


def as_stated(answer: AIMessage, text: str) -> AIMessage:
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


def _numbers_said(state: AgentState) -> set[float]:
    """Every number in the trader's own words of their last two messages (an answer to a
    question counts with the message that raised it)."""
    said = [str(m.content) for m in state["messages"] if isinstance(m, HumanMessage)][-2:]
    return {abs(float(n.replace(",", ""))) for text in said for n in numbers_in(own_words(text))}


def order_question(answer: AIMessage, state: AgentState, turn: list, text: str) -> str | None:
    """What to ask before an order proposal the trader did not finish: the lots (unless they
    wrote the number, or the sizer worked it out this turn) and the stop-loss (unless they
    said they want none: then the risk engine explains why every order needs one)."""
    said = _numbers_said(state)
    sized = any(isinstance(m, ToolMessage) and m.name == "size_position" for m in turn)
    for call in answer.tool_calls:
        if call["name"] != "propose_order":
            continue
        args = call["args"]
        lots = sized or _number(args.get("volume")) in said
        stop = args.get("stop_loss") is not None or _NO_STOP.search(text)
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


def alert_set(turn: list) -> AIMessage | None:
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


def guessed_level(answer: AIMessage, state: AgentState) -> str | None:
    """The symbol of a price, move, spread or P/L alert whose level the trader never gave (no
    number in their last two messages): the model picked it. None otherwise."""
    said = _numbers_said(state)
    for call in answer.tool_calls:
        if call["name"] == "set_alert" and not said \
                and call["args"].get("kind", "price") in ("price", "move", "spread", "pnl"):
            return str(call["args"].get("symbol", "")).upper() or "this"
    return None


def guessed_symbol(answer: AIMessage, state: AgentState) -> str | None:
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


def unusable(answer: AIMessage) -> bool:
    """A final reply that says nothing (empty, or only brackets) or is left-over call markup."""
    text = str(answer.content)
    return not answer.tool_calls and (not _SAYS_SOMETHING.search(text)
                                      or _CALL_MARKUP.search(text) is not None)


def checked(answer: AIMessage, state: AgentState, turn: list, text: str,
            helps: bool) -> AIMessage:
    """The model's answer, or what stands instead: the salvage of an unusable reply, or the
    question a guess or a missing order field calls for."""
    if unusable(answer):
        return salvaged(answer, turn, helps)
    if guessed := guessed_symbol(answer, state):
        return AIMessage(f"Which symbol do you mean? You did not name one, and I will not "
                         f"guess ({guessed} would be a guess).",
                         additional_kwargs={"error": "symbol_guessed"})
    if helps and (question := order_question(answer, state, turn, text)):
        return AIMessage(question, additional_kwargs={"question": "order"})
    if level := guessed_level(answer, state):
        return AIMessage(f"At what level should the {level} alert fire? You did not give "
                         f"one, and I will not pick it for you.",
                         additional_kwargs={"error": "level_guessed"})
    return answer


def with_figures(answer: AIMessage, turn: list, text: str) -> list[AIMessage]:
    """The answer, and after a model's own answer the analysis figures it is about."""
    shown = "" if answer.tool_calls or GRAPH_MARKERS & set(answer.additional_kwargs) \
        else figures(turn, text)
    return [answer, *([AIMessage(shown, additional_kwargs={"figures": True})] if shown else [])]
