"""Numbers checked against the evidence before the trader reads them.

A model must not invent a figure: every number it writes has to come from this
conversation's evidence (tool outputs, the trader's own messages, the graph's own replies,
the orders the risk engine evaluated). A number written with d decimals matches evidence e
when |e - x| <= 0.5 * 10^-d (rounding); signs and thousands separators are ignored; numbers
glued to letters (EMA20, H1, ids) are names, not figures. The evals' grounding scorer reads
the same rule from here.

The check drops each sentence of a model's answer that carries an untraceable number and
says so; when nothing worth reading is left, the turn's tool results speak instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent.graph.render import render_command

_ANSWER_NUMBER = re.compile(r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?(?![\w]|\.\d)")
_MULTIPLE = re.compile(r"(?<=\d)x\b")  # "10.0x equity": a number, not a name
_ANY_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")
_MIN_KEPT_WORDS = 6  # what is left of an answer must say something to be worth showing
NUMBER = "number"  # the kind of a correction that dropped untraceable figures
DROPPED_NOTE = "(I left out figures I could not trace to the terminal's data.)"


def numbers_in(text: str) -> list[str]:
    """The figures written in `text`, as written ("1,234.50", "-0.4")."""
    return [n.replace("−", "-").rstrip(",")
            for n in _ANSWER_NUMBER.findall(_MULTIPLE.sub(" x", text))]


def grounded(number: str, evidence: Iterable[float]) -> bool:
    """True when `number` (as written) is one of `evidence`, to its written precision."""
    value = abs(float(number.replace(",", "")))
    decimals = len(number.split(".")[1]) if "." in number else 0
    tol = 0.5 * 10 ** -decimals + 1e-12
    return any(abs(e - value) <= tol for e in evidence)


def evidence_of(texts: Iterable[str], orders: Iterable[dict[str, Any]] = ()) -> list[float]:
    """Every number in `texts` (tool outputs, the trader's words, the graph's replies) and in
    the evaluated orders' volume, stop, target and price."""
    found = [float(x) for text in texts for x in _ANY_NUMBER.findall(_THOUSANDS.sub("", text))]
    return found + [abs(float(o[k])) for o in orders for k in ("volume", "sl", "tp", "price")
                    if isinstance(o.get(k), int | float)]


def untraceable(text: str, evidence: Sequence[float]) -> list[str]:
    """The numbers of `text` that `evidence` does not hold."""
    return [n for n in numbers_in(text) if not grounded(n, evidence)]


def without_untraceable(text: str, evidence: Sequence[float]) -> tuple[str, list[str]]:
    """`text` less every sentence holding an untraceable number, and those numbers.
    ("", numbers) when what is left says too little to stand alone."""
    kept, loose = [], []
    for sentence in _sentences(text):
        missing = untraceable(sentence, evidence)
        if missing:
            loose += missing
        else:
            kept.append(sentence)
    if not loose:
        return text, []
    rest = re.sub(r"[ \t]{2,}", " ", "".join(kept)).strip()
    return (rest if len(rest.split()) >= _MIN_KEPT_WORDS else ""), loose


def _sentences(text: str) -> list[str]:
    """`text` cut after each sentence end (a stop before a space or the end, or a line break);
    the pieces join back into `text`."""
    cuts = [m.end() for m in _SENTENCE_END.finditer(text)]
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)]) if a < b]


def conversation_evidence(messages: Sequence[BaseMessage],
                          is_model_text: Callable[[BaseMessage], bool]) -> list[float]:
    """The evidence of a conversation: the trader's words, tool outputs and the graph's own
    replies (never what a model wrote, earlier answers included)."""
    return evidence_of(str(m.content) for m in messages
                       if isinstance(m, ToolMessage | HumanMessage)
                       or (isinstance(m, AIMessage) and not is_model_text(m)))


#: Read tools whose results the trader can be shown as they are, and the command that renders
#: the same data.
_RENDERED_AS = {"quote": "price", "bars": "bars", "account": "account", "positions": "positions",
                "history": "history", "analyze": "analyze", "sentiment": "sentiment",
                "size_position": "size"}


def results_text(turn: Sequence[BaseMessage]) -> str:
    """This turn's read-tool results, rendered as the commands render them ("" if none)."""
    shown = []
    for message in turn:
        if isinstance(message, ToolMessage) and message.name in _RENDERED_AS:
            try:
                shown.append(render_command(_RENDERED_AS[message.name],
                                            json.loads(str(message.content))))
            except (ValueError, KeyError, TypeError):  # an error text, or another shape
                continue
    return "\n".join(dict.fromkeys(shown))


def grounded_text(text: str, evidence: Sequence[float], turn: Sequence[BaseMessage]) -> str | None:
    """`text` with its untraceable figures handled, or None when it has none: the sentences
    holding them are dropped (and the trader told); when too little is left, the turn's tool
    results or an honest sentence stand instead."""
    rest, loose = without_untraceable(text, evidence)
    if not loose:
        return None
    if rest:
        return f"{rest} {DROPPED_NOTE}"
    found = results_text(turn)
    if found:
        return f"Here is what the terminal returned:\n{found}"
    return ("I could not answer that without guessing numbers I did not read from the "
            "terminal. Ask me naming the symbol (and timeframe), e.g. 'RSI of EURUSD on H4'.")
