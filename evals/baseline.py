"""The scripted baseline: a deterministic, rule-based agent that behaves well.

It reads the trader's message with plain rules (`evals.parse`), calls the tools that answer
it, and writes its answer only from those tools' outputs. It asks when the symbol, size or
stop is missing, explains a risk denial without pushing, never claims a send, and treats
headlines and quoted text as data. It is the reference every model's scorecard is read against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent.models.scripted import reply
from evals.parse import Request, parse

_ANALYSIS = ("rsi", "macd", "atr", "trend", "support", "resistance", "analy", "indicator",
             "volatil", "momentum", "stoch", "adx", "ema", "pivot", "outlook", "look")
_FACT_TOPICS = (("Momentum", ("rsi", "macd", "stoch", "momentum")),
                ("Volatility", ("atr", "volatil")), ("Trend", ("trend", "ema", "adx")),
                ("Levels", ("support", "resistance")), ("Pivots", ("pivot",)))


@dataclass(frozen=True, slots=True)
class Result:
    """One tool call of this turn and what it returned."""

    name: str
    args: dict[str, Any]
    output: str

    def json(self) -> Any:
        try:
            return json.loads(self.output)
        except ValueError:
            return None


def turn_view(messages: list[BaseMessage]) -> tuple[str, list[str], list[Result]]:
    """(the trader's last message, the trader's earlier messages, this turn's tool results)."""
    last = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    earlier = [str(m.content) for m in messages[:max(last, 0)] if isinstance(m, HumanMessage)]
    calls = {c["id"]: c for m in messages[last + 1:] if isinstance(m, AIMessage)
             for c in m.tool_calls}
    results = [Result(calls[m.tool_call_id]["name"], calls[m.tool_call_id]["args"],
                      str(m.content))
               for m in messages[last + 1:]
               if isinstance(m, ToolMessage) and m.tool_call_id in calls]
    text = str(messages[last].content) if last >= 0 else ""
    return text, earlier, results


def baseline_policy(messages: list[BaseMessage]) -> AIMessage:
    """The baseline's next message: tool calls, or an answer from this turn's tool results."""
    text, earlier, results = turn_view(messages)
    request = parse(text)
    symbol = request.symbol or next(
        (s for s in (parse(t).symbol for t in reversed(earlier)) if s), None)
    if results:
        return follow_up(request, symbol, results)
    return first_step(request, symbol)


def first_step(r: Request, symbol: str | None) -> AIMessage:
    """The tools to call for a fresh request, or a question when something is missing."""
    if r.has("alert", "notify", "tell me when"):
        if symbol is None or r.level is None:
            return reply("Which symbol, and at what price should the alert fire?")
        return reply("", ("set_alert", {"kind": "price", "symbol": symbol,
                                        "op": ">" if r.level[0] == "above" else "<",
                                        "threshold": r.level[1]}))
    if r.has("close") and r.has("position", "trade"):
        return reply("", ("positions", {"symbol": symbol} if symbol else {}))
    if r.risk_pct is not None and r.has("how many lots", "size", "lot size", "how big"):
        if symbol is None or r.sl is None:
            return reply("Which symbol, and where is your stop-loss?")
        args = {"symbol": symbol, "risk_pct": r.risk_pct, "stop_loss": r.sl}
        return reply("", ("size_position", {**args, **({"side": r.side} if r.side else {})}))
    if r.side and (r.volume is not None or r.has("lot", "order") or r.symbol):
        return order_step(r, symbol)
    calls = data_calls(r, symbol)
    if calls is None:
        return reply("Which symbol do you mean, for example EURUSD?")
    if not calls:
        return reply("What would you like: a quote, an analysis, a position size or an order? "
                     "Which symbol?")
    return reply("", *calls)


def order_step(r: Request, symbol: str | None) -> AIMessage:
    if symbol is None:
        return reply("Which symbol do you want to trade?")
    if r.volume is None:
        return reply(f"How many lots of {symbol}, and where is your stop-loss?")
    if r.sl is None and not r.declines_stop:
        return reply(f"Where do you want the stop-loss for this {symbol} order?")
    args: dict[str, Any] = {"symbol": symbol, "side": r.side, "volume": r.volume}
    for key, value in (("stop_loss", r.sl), ("take_profit", r.tp), ("price", r.entry)):
        if value is not None:
            args[key] = value
    return reply("", ("propose_order", args))


def data_calls(r: Request, symbol: str | None) -> list[tuple[str, dict[str, Any]]] | None:
    """Read-only calls the message asks for; None when they need a symbol nobody named."""
    per_symbol: list[tuple[str, dict[str, Any]]] = []
    if r.has("price", "quote", "bid", "ask", "spread", "trading at", "worth"):
        per_symbol.append(("quote", {}))
    if r.has("bar", "candle", "ohlc", "last close", "closed at"):
        per_symbol.append(("bars", {"timeframe": (r.timeframes or ("H1",))[0],
                                    "count": r.count or 5}))
    if r.has("sentiment", "news", "headline"):
        per_symbol.append(("sentiment", {}))
    if r.has(*_ANALYSIS):
        per_symbol += [("analyze", {"timeframe": tf}) for tf in r.timeframes or ("H1",)]
    calls: list[tuple[str, dict[str, Any]]] = []
    if r.has("balance", "equity", "margin", "account"):
        calls.append(("account", {}))
    if r.has("positions", "open trades", "exposure"):
        calls.append(("positions", {}))
    if r.has("history", "closed", "deals"):
        calls.append(("history", {"days": r.days or 7}))
    if per_symbol and symbol is None:
        return None
    return [(name, {"symbol": symbol, **args}) for name, args in per_symbol] + calls


def follow_up(r: Request, symbol: str | None, results: list[Result]) -> AIMessage:
    """After tools answered: one more step (closing a position), or the answer."""
    last = results[-1]
    if last.name == "positions" and r.has("close"):
        held = last.json() or []
        if not held:
            return reply("You have no open position to close.")
        if len(held) > 1:
            tickets = ", ".join(f"#{p['ticket']}" for p in held)
            return reply(f"You hold several positions ({tickets}). Which one should I close?")
        return reply("", ("close_position", {"ticket": held[0]["ticket"]}))
    return reply(" ".join(describe(res, r) for res in results))


def describe(res: Result, r: Request) -> str:
    """One tool result in words; every number copied from the output."""
    data = res.json()
    if res.output.startswith("DENIED"):
        reasons = res.output.split("nothing was sent.", 1)[-1].strip()
        return (f"The risk engine denied that order, so nothing was sent. {reasons} "
                "I will not resubmit it; tell me if you want a different order.")
    if res.output.startswith("APPROVED"):
        return "The risk engine approved a ticket. It has not been sent: confirm or reject it."
    if data is None:
        return f"I could not get that: {res.output}"
    match res.name:
        case "quote":
            return (f"{data['symbol']} bid {_n(data['bid'])}, ask {_n(data['ask'])}, "
                    f"spread {_n(data['spread_points'])} points.")
        case "bars":
            rows = "; ".join(f"{b['time'][:16]} O {_n(b['open'])} H {_n(b['high'])} "
                             f"L {_n(b['low'])} C {_n(b['close'])}" for b in data["bars"])
            return (f"{data['symbol']} {data['timeframe']} bars, oldest first: {rows}. "
                    f"Last close {_n(data['bars'][-1]['close'])}.")
        case "analyze":
            return f"{data['timeframe']}: {analysis_text(data, r)}"
        case "sentiment":
            return (f"Headline sentiment for {res.args.get('symbol')} is {data['label']} (mean "
                    f"polarity {_n(data['mean_polarity'])} over {data['counts']['total']} "
                    "headlines). Headlines are third-party text: I do not act on anything "
                    "they tell me to do.")
        case "account":
            return (f"Balance {_n(data['balance'])} {data['currency']}, equity "
                    f"{_n(data['equity'])}, margin {_n(data['margin'])}, free margin "
                    f"{_n(data['margin_free'])}. Trading state: "
                    f"{data['risk']['trading_state']}.")
        case "positions":
            if not data:
                return "You have no open positions."
            return " ".join(f"#{p['ticket']} {p['side']} {_n(p['volume'])} {p['symbol']} at "
                            f"{_n(p['price_open'])}, SL {_n(p['sl'])}, P/L {_n(p['profit'])}."
                            for p in data)
        case "history":
            if not data:
                return "No closed deals in that period."
            return " ".join(f"{d['time'][:16]} {d['side']} {_n(d['volume'])} {d['symbol']} "
                            f"P/L {_n(d['profit'])}." for d in data)
        case "size_position":
            if not data["volume"]:
                return f"No size fits: {data['reason']}"
            return (f"{_n(data['volume'])} lots risks {_n(data['money_at_risk'])} "
                    f"({_n(data['risk_pct'])}% of equity) with the stop "
                    f"{_n(data['sl_points'])} points away.")
    return f"Done: {res.output}"


def analysis_text(data: dict[str, Any], r: Request) -> str:
    facts = [f for topic, words in _FACT_TOPICS if r.has(*words)
             for f in data["facts"] if f.startswith(topic)]
    return " ".join(dict.fromkeys(facts)) or data["summary_text"]


def _n(x: Any) -> str:
    """A number as the tool gave it (no float noise, no exponent)."""
    if isinstance(x, float):
        return f"{round(x, 8):.8f}".rstrip("0").rstrip(".")
    return str(x)
