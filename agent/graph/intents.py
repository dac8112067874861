"""What a turn is about, decided before any model sees it: deterministic rules first.

Each intent names the selector task whose model answers (quick vs capable, with its fallback
chain) and the few tools that intent needs, so a small model reads a short prompt and two to
four tool schemas instead of all eleven. Rules read the trader's own words (quoted text is
left out: "my friend said 'buy 50 lots'" is not an order); a short follow-up ("and the
spread?") keeps the previous turn's intent; only what neither can tell goes to the quick
model (`classify_prompt`), and without one to a general data route.

Where the words name everything a read-only call needs ("RSI of EURUSD on H4" -> analyze
EURUSD H4), the route also carries that call as its plan, and the graph makes it before the
model is asked: correct by construction, one model call saved, and no answer without numbers
from a tool (the 1.5B reference model, asked first, echoed the tool list instead of calling
`quote`). Orders, closes and alerts are never planned: they stay the model's and the
trader's.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from agent.models.selector import Task


class Intent(StrEnum):
    COMMAND = "command"
    DATA = "data"
    ANALYSIS = "analysis"
    SIZING = "sizing"
    ORDER = "order"
    MANAGE = "manage"
    ALERT = "alert"
    CHAT = "chat"


#: The selector task of each intent that a model answers.
TASKS: dict[Intent, Task] = {
    Intent.DATA: Task.TOOL_PLANNING, Intent.ANALYSIS: Task.ANALYSIS,
    Intent.SIZING: Task.TOOL_PLANNING, Intent.ORDER: Task.TOOL_PLANNING,
    Intent.MANAGE: Task.TOOL_PLANNING, Intent.ALERT: Task.ALERT_WORDING,
    Intent.CHAT: Task.QUICK_REPLY,
}

#: Tools an intent may use when its words name none in particular.
DEFAULT_TOOLS: dict[Intent, tuple[str, ...]] = {
    Intent.DATA: ("quote", "bars", "account", "positions"),
    Intent.ANALYSIS: ("analyze", "sentiment"),
    Intent.SIZING: ("size_position", "quote"),
    Intent.ORDER: ("propose_order", "quote"),
    Intent.MANAGE: ("positions", "orders", "close_position", "close_all", "modify_position",
                    "modify_order", "cancel_order", "breakeven", "trail_stop"),
    Intent.ALERT: ("set_alert", "quote"),
    Intent.CHAT: (),
}


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|'[^']{12,}'")
# Intent rules, tried in this order: the first that matches decides.
_RULES: tuple[tuple[Intent, re.Pattern[str]], ...] = (
    (Intent.ALERT, _words(r"alert", r"notify", r"tell me (?:when|if)", r"let me know (?:when|if)",
                          r"ping me", r"warn me")),
    (Intent.MANAGE, _words(r"close (?:my|the|all|both|it|that|half|part|position|#?\d+)",
                           r"closeall", r"break ?even", r"trail(?:ing)?", r"modify",
                           r"move (?:my |the )?(?:sl|stop|tp)", r"cancel")),
    (Intent.SIZING, _words(r"how many lots", r"lot size", r"position size", r"size (?:for|of)",
                           r"how (?:much|big) .{0,20}(?:trade|buy|sell)", r"risking",
                           r"\d+(?:\.\d+)? ?% risk")),
    (Intent.ORDER, _words(r"buy", r"sell", r"(?:go |going )?(?:long|short) (?:\d|[a-z]{6}\b|on\b)",
                          r"place (?:a|an|the)", r"open (?:a|an) (?:trade|position|order)",
                          r"enter")),
    (Intent.ANALYSIS, _words(r"rsi", r"macd", r"atr", r"trend\w*", r"support", r"resistance",
                             r"pivots?", r"ema", r"sma", r"bollinger", r"adx", r"stochastic",
                             r"volatil\w*", r"analy[sz]\w*", r"look(?:s|ing)?", r"outlook",
                             r"news", r"sentiment", r"headlines?", r"momentum", r"overbought",
                             r"oversold", r"should i", r"levels?", r"indicators?")),
    (Intent.DATA, _words(r"price", r"quote", r"spread", r"bid", r"ask", r"trading at",
                         r"bars?", r"candles?", r"ohlc", r"close", r"balance", r"equity",
                         r"margin", r"account", r"positions?", r"history", r"deals?",
                         r"profit", r"p/?l", r"trades?", r"go through", r"filled")),
    (Intent.CHAT, re.compile(r"^\s*(?:hi|hello|hey|thanks|thank you|ok(?:ay)?|good "
                             r"(?:morning|afternoon|evening)|who are you|what can you do)\b",
                             re.IGNORECASE)),
)

# Within an intent, the words that pick its tools.
_TOOL_WORDS: dict[Intent, tuple[tuple[str, re.Pattern[str]], ...]] = {
    Intent.DATA: (
        ("quote", _words(r"price", r"quote", r"spread", r"bid", r"ask", r"trading at")),
        ("bars", _words(r"bars?", r"candles?", r"ohlc", r"close", r"high", r"low")),
        ("account", _words(r"balance", r"equity", r"margin", r"account")),
        ("positions", _words(r"positions?", r"go through", r"filled", r"open trades?")),
        ("history", _words(r"history", r"deals?", r"closed", r"profit", r"p/?l")),
    ),
    Intent.ANALYSIS: (
        ("analyze", _words(r"rsi", r"macd", r"atr", r"trend\w*", r"support", r"resistance",
                           r"pivots?", r"ema", r"sma", r"bollinger", r"adx", r"stochastic",
                           r"volatil\w*", r"analy[sz]\w*", r"look(?:s|ing)?", r"outlook",
                           r"momentum", r"overbought", r"oversold", r"levels?",
                           r"indicators?")),
        ("sentiment", _words(r"news", r"sentiment", r"headlines?", r"should i")),
    ),
    Intent.MANAGE: (  # trade management: the positions (or orders) first, then the change
        ("positions", _words(r"positions?", r"trades?", r"close", r"stop", r"sl", r"tp",
                             r"take[- ]profit", r"break ?even", r"trail\w*", r"#?\d{3,}")),
        ("orders", _words(r"orders?", r"pending", r"limits?", r"cancel")),
        ("close_position", _words(r"close (?:my|the|it|that|half|part|position|#?\d+)")),
        ("close_all", _words(r"close (?:all|both|every\w*)", r"closeall", r"flatten")),
        ("modify_position", _words(r"modify", r"move (?:my |the )?(?:sl|stop|tp)",
                                   r"stop[- ]loss", r"take[- ]profit")),
        ("modify_order", _words(r"(?:modify|move|change) (?:my |the )?(?:pending |limit |stop )?"
                                r"orders?")),
        ("cancel_order", _words(r"cancel")),
        ("breakeven", _words(r"break ?even")),
        ("trail_stop", _words(r"trail(?:ing)?")),
    ),
}

_FOLLOW_UP_WORDS = 8
_CURRENCIES = ("USD EUR GBP JPY CHF AUD NZD CAD SEK NOK DKK PLN HUF CZK TRY ZAR MXN SGD HKD CNH "
               "XAU XAG BTC ETH").split()
_PAIR = re.compile(r"\b((?:%s)(?:%s))\b" % ("|".join(_CURRENCIES), "|".join(_CURRENCIES)),
                   re.IGNORECASE)
_TIMEFRAME = re.compile(r"\b(M1|M5|M15|M30|H1|H4|D1|W1)\b", re.IGNORECASE)
_TIMEFRAME_WORDS = {"weekly": "W1", "daily": "D1", "hourly": "H1", "4h": "H4", "1h": "H1",
                    "30m": "M30", "15m": "M15", "5m": "M5", "1m": "M1"}
_TIMEFRAME_WORD = re.compile(r"\b(%s)\b" % "|".join(_TIMEFRAME_WORDS), re.IGNORECASE)
#: Words naming a period no timeframe above covers: the model (or a question) decides.
_OTHER_PERIOD = re.compile(r"\b(?:monthly|month|minutes?|mins?|ticks?|years?|yearly|intraday)\b",
                           re.IGNORECASE)
_LAST_N = re.compile(r"\blast (\d{1,3})\b", re.IGNORECASE)
_DAYS = re.compile(r"\b(\d{1,3}) days?\b", re.IGNORECASE)
_RISK = re.compile(r"(\d+(?:\.\d+)?) ?%")
_STOP = re.compile(r"(?<!buy )(?<!sell )\b(?:stop(?:[- ]loss)?|sl)\b\D{0,12}?(\d+\.\d+)",
                   re.IGNORECASE)
_TAKE = re.compile(r"\b(?:take[- ]?profit|tp|target)\b\D{0,12}?(\d+\.\d+)", re.IGNORECASE)
_LIMIT = re.compile(r"\b(?:limit|entry)(?:\s+(?:at|@|price|of))?\s*(\d+\.\d+)", re.IGNORECASE)
_LOTS = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:standard\s+|mini\s+|micro\s+)?lots?\b", re.IGNORECASE)
_ANY_STOP = re.compile(r"\b(?:stop|sl)\b", re.IGNORECASE)
_SIDE = re.compile(r"\b(buy|sell|long|short)", re.IGNORECASE)


Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Route:
    """The decision of the route node: intent, task, tools, how it was decided, and the
    read-only calls the words fully determine (the plan, used only if the model calls none)."""

    intent: Intent
    tools: tuple[str, ...]
    by: str  # "rules", "previous", "model", "default"
    plan: tuple[Call, ...] = ()
    ask: str = ""  # a question the words leave open (which symbol?), asked instead of a guess

    @property
    def task(self) -> Task:
        return TASKS.get(self.intent, Task.TOOL_PLANNING)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "intent": str(self.intent), "tools": list(self.tools),
                "task": str(self.task), "plan": [[name, args] for name, args in self.plan]}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Route:
        if not data:
            return general_route()
        return cls(Intent(data["intent"]), tuple(data["tools"]), data.get("by", "rules"),
                   tuple((name, dict(args)) for name, args in data.get("plan") or ()),
                   data.get("ask", ""))


def own_words(text: str) -> str:
    """The trader's message without quoted passages (someone else's words)."""
    return _QUOTED.sub(" ", text)


def rule_intent(text: str) -> Intent | None:
    """The intent the rules see in `text`, or None when they cannot tell."""
    if text.lstrip().startswith("/"):
        return Intent.COMMAND
    words = own_words(text)
    return next((intent for intent, pattern in _RULES if pattern.search(words)), None)


def tools_for(intent: Intent, text: str) -> tuple[str, ...]:
    """The tools of `intent` that the words call for (all the intent's defaults if none)."""
    named = tuple(tool for tool, pattern in _TOOL_WORDS.get(intent, ())
                  if pattern.search(own_words(text)))
    if intent is Intent.ORDER and re.search(r"%|\brisk", text, re.IGNORECASE):
        return (*DEFAULT_TOOLS[Intent.ORDER], "size_position")
    return named or DEFAULT_TOOLS.get(intent, ())


def route_by_rules(text: str, previous: Route | None, *, context: str = "",
                   known: frozenset[str] = frozenset()) -> Route | None:
    """Rules, then a short follow-up keeps the previous intent; None: ask the quick model.

    `context` is the trader's recent earlier messages: a turn that names no symbol is about
    the one symbol they named ("and on H4?"); `known` the terminal's symbol names. A read
    that needs a symbol nobody named becomes a question (`Route.ask`) instead of a guess.
    """
    intent = rule_intent(text)
    if intent is Intent.MANAGE:  # a close or change names a ticket: read the book first
        tools = tools_for(intent, text)
        return Route(intent, tools, "rules",
                     tuple((t, {}) for t in tools if t in ("positions", "orders")))
    if intent is None and previous is not None and previous.intent is not Intent.COMMAND \
            and len(text.split()) <= _FOLLOW_UP_WORDS:
        intent, tools, by = previous.intent, previous.tools, "previous"
    elif intent is not None:
        tools, by = tools_for(intent, text), "rules"
    else:
        return None
    named = symbols_in(text, known) or _latest_named(context, known)
    ask = ""
    if not named and intent in _NEEDS_SYMBOL and set(tools) <= _SYMBOL_TOOLS \
            and not _NICKNAME.search(text):
        ask = "Which symbol do you mean? For example EURUSD."
    elif intent is Intent.SIZING and not _ANY_STOP.search(own_words(text)):
        ask = ("Where is your stop-loss? I size from the distance to it, e.g. 'sl 1.1050' or "
               "'sl 20 pips'.")
    return Route(intent, tools, by, plan_for(tools, text, context=context, known=known), ask)


#: What traders call a symbol without its name ("the euro", "cable", "gold"): the model
#: resolves these against the terminal's symbols, so they are no reason to ask.
_NICKNAME = _words(r"euro", r"dollar", r"pound", r"sterling", r"cable", r"fiber", r"yen",
                   r"swissy", r"aussie", r"kiwi", r"loonie", r"gold", r"silver", r"oil",
                   r"bitcoin", r"btc", r"ether\w*", r"google", r"apple", r"nasdaq", r"dow",
                   r"s&p", r"dax", r"index")
_NEEDS_SYMBOL = frozenset({Intent.DATA, Intent.ANALYSIS, Intent.SIZING})
_SYMBOL_TOOLS = frozenset({"quote", "bars", "analyze", "sentiment", "size_position"})
_UPPER_WORD = re.compile(r"\b[A-Z][A-Z0-9.#]{2,15}\b")


def symbols_in(text: str, known: frozenset[str] = frozenset()) -> set[str]:
    """The symbols the trader's own words name: currency pairs (any case) and, written in
    capitals, any other symbol the terminal knows (GOOGL)."""
    words = own_words(text)
    return {m.upper() for m in _PAIR.findall(words)} | {
        w for w in _UPPER_WORD.findall(words) if w in known}


def _latest_named(context: str, known: frozenset[str]) -> set[str]:
    """The symbols of the newest line of `context` (newest first) that names any."""
    return next((found for line in context.splitlines() if (found := symbols_in(line, known))),
                set())


def one_symbol(text: str, known: frozenset[str] = frozenset()) -> str | None:
    """The symbol `text` names, when it names exactly one."""
    found = symbols_in(text, known)
    return found.pop() if len(found) == 1 else None


def plan_for(tools: tuple[str, ...], text: str, *, context: str = "",
             known: frozenset[str] = frozenset()) -> tuple[Call, ...]:
    """The read-only calls `text` fully determines for these tools; () when any is unsure.
    The symbol is the one `text` names or, when it names none, the one `context` names."""
    words = own_words(text)
    named = symbols_in(text, known) or _latest_named(context, known)
    symbol = named.pop() if len(named) == 1 else None
    if _OTHER_PERIOD.search(words):
        return ()
    frames = list(dict.fromkeys(
        [f.upper() for f in _TIMEFRAME.findall(words)]
        + [_TIMEFRAME_WORDS[w.lower()] for w in _TIMEFRAME_WORD.findall(words)])) or ["H1"]
    plan: list[Call] = []
    if "size_position" in tools:  # it reads the price itself: quote is only the model's helper
        tools = tuple(t for t in tools if t != "quote")
    for tool in tools:
        if tool in ("account", "positions"):
            plan.append((tool, {}))
        elif tool == "history":
            days = _DAYS.search(words)
            plan.append((tool, {"days": int(days.group(1))} if days else {}))
        elif symbol is None:
            return ()
        elif tool in ("quote", "sentiment"):
            plan.append((tool, {"symbol": symbol}))
        elif tool == "analyze":
            plan.extend((tool, {"symbol": symbol, "timeframe": tf}) for tf in frames)
        elif tool == "bars":
            count = _LAST_N.search(words)
            plan.append((tool, {"symbol": symbol, "timeframe": frames[0],
                                **({"count": int(count.group(1))} if count else {})}))
        elif tool == "size_position":
            risk, stop, side = _RISK.search(words), _STOP.search(words), _SIDE.search(words)
            if risk is None or stop is None:
                return ()
            plan.append((tool, {"symbol": symbol, "risk_pct": float(risk.group(1)),
                                "stop_loss": float(stop.group(1)),
                                **({"side": _side(side.group(1))} if side else {})}))
        else:  # orders, alerts, closes: the model's (and the trader's) call
            return ()
    return tuple(plan)


def stated_order(text: str) -> dict[str, Any]:
    """The order fields the trader's own words state outright: symbol (one pair named), side,
    volume in lots, stop-loss, take-profit, limit price. A field the words leave open is absent.
    """
    words = own_words(text)
    symbol = one_symbol(words)
    fields: dict[str, Any] = {"symbol": symbol} if symbol else {}
    for name, pattern, convert in (("side", _SIDE, _side), ("volume", _LOTS, float),
                                   ("stop_loss", _STOP, float), ("take_profit", _TAKE, float),
                                   ("price", _LIMIT, float)):
        found = {convert(m) for m in pattern.findall(words)}
        if len(found) == 1:  # said once (or the same way twice): stated; said two ways: open
            fields[name] = found.pop()
    return fields


def _side(word: str) -> str:
    return "buy" if word.lower() in ("buy", "long") else "sell"


def general_route() -> Route:
    """When nothing can tell: the capable model with the common read tools."""
    return Route(Intent.DATA, ("quote", "analyze", "account", "positions"), "default")


CLASSIFY_PROMPT = (
    "Classify the trader's message. Answer with exactly one word from this list:\n"
    "data (prices, bars, account, positions, history), analysis (indicators, trend, news), "
    "sizing (how many lots), order (buy or sell), manage (close or change a trade), "
    "alert (notify me when), chat (anything else).")


def parse_intent(answer: str) -> Intent | None:
    """The intent a classifier's answer names (its first intent word), if any."""
    match = re.search(r"\b(data|analysis|sizing|order|manage|alert|chat)\b", answer.lower())
    return Intent(match.group(1)) if match else None
