"""Scripted models for the web tests: deterministic answers built from real tool results."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent.models.scripted import reply

ORDER = {"symbol": "EURUSD", "side": "buy", "volume": 0.1, "stop_loss": 1.11,
         "take_profit": 1.122}


def _turn(messages: list[BaseMessage]) -> tuple[str, list[ToolMessage]]:
    """The trader's last message and the tool results since."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return str(messages[i].content).lower(), [
                m for m in messages[i + 1:] if isinstance(m, ToolMessage)]
    return "", []


def demo(messages: list[BaseMessage]) -> AIMessage:
    """hello -> a direct answer; analyze -> analyze tool; buy -> propose_order; else quote."""
    text, results = _turn(messages)
    if text.startswith("hello"):
        return reply("Hello trader, the companion is ready.")
    if "analy" in text:
        if not results:
            return reply("", ("analyze", {"symbol": "EURUSD", "timeframe": "H1"}))
        trend = json.loads(results[-1].content)["trend"]
        return reply(f"EURUSD H1 trend is {trend['direction']} ({trend['strength']}); "
                     f"EMA20 {trend['ema_20']}.")
    if "buy" in text:
        if not results:
            return reply("", ("propose_order", ORDER))
        if results[-1].content.startswith("DENIED"):
            return reply("The risk engine DENIED that order; nothing was sent.")
        return reply("The risk engine has decided; see the ticket.")
    if not results:
        return reply("", ("quote", {"symbol": "EURUSD"}))
    quote = json.loads(results[-1].content)
    return reply(f"EURUSD bid is {quote['bid']}. Ask is {quote['ask']}. "
                 f"Spread is {quote['spread_points']} points.")  # streamed sentence by sentence


def down(messages: list[BaseMessage]) -> AIMessage:
    """A model whose server is unreachable."""
    raise ConnectionError("connection refused by 127.0.0.1:11434")
