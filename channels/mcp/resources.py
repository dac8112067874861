"""MCP resources (account, positions, pending tickets, the latest analysis of a symbol) and the
companion's own prompts as MCP prompts (the core rules, and one per intent naming its tools)."""

from __future__ import annotations

import json
import re
from typing import Any

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.prompts.base import Prompt, UserMessage

from agent.domain import CompanionError
from agent.graph.intents import DEFAULT_TOOLS, Intent
from agent.graph.prompts import CORE_RULES, intent_prompt
from agent.service import CompanionService
from agent.tools.jsonable import to_jsonable
from channels.mcp.tools import SYMBOL_PATTERN

JSON = "application/json"
#: What a client is told about confirmation, after the companion's own rules.
CONFIRMATION = ("Over MCP you can read and propose, never confirm: a proposal answers with the "
                "risk engine's decision and a ticket id; the trader confirms or rejects the "
                "ticket in the web chat, Telegram or the CLI. Follow it with ticket_status.")
_SYMBOL = re.compile(SYMBOL_PATTERN)


def _json(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2)


def register_resources(mcp: FastMCP, service: CompanionService) -> None:
    """Account, positions, pending tickets and `companion://analysis/{symbol}`."""

    @mcp.resource("companion://account", name="account", mime_type=JSON,
                  description="Balance, equity, margin and the trading state, read now.")
    async def account() -> str:
        return _json(await service.account())

    @mcp.resource("companion://positions", name="positions", mime_type=JSON,
                  description="Open positions, read now.")
    async def positions() -> str:
        return _json(await service.positions())

    @mcp.resource("companion://tickets/pending", name="pending tickets", mime_type=JSON,
                  description="Tickets waiting for the trader's answer, newest first.")
    async def pending_tickets() -> str:
        return _json(await service.pending_tickets())

    @mcp.resource("companion://analysis/{symbol}", name="analysis", mime_type=JSON,
                  description="The latest analysis of a symbol on H1: indicators, key levels "
                  "and the summary, computed from the newest bars.")
    async def analysis(symbol: str) -> str:
        if not _SYMBOL.match(symbol):
            raise CompanionError("bad_symbol", f"'{symbol}' is not a symbol name.")
        return _json(await service.analysis(symbol, "H1"))


def register_prompts(mcp: FastMCP) -> None:
    """`trading_rules`, and one prompt per intent: its rules and tools, then the request."""

    def rules() -> str:
        return f"{CORE_RULES}\n{CONFIRMATION}"

    mcp.add_prompt(Prompt.from_function(
        rules, name="trading_rules",
        description="The rules the companion's own agent follows, for any model using these "
                    "tools."))
    for intent, tools in DEFAULT_TOOLS.items():
        if tools:
            mcp.add_prompt(_intent_prompt(intent, tools))


def _intent_prompt(intent: Intent, tools: tuple[str, ...]) -> Prompt:
    def render(request: str) -> list[UserMessage]:
        return [UserMessage(f"{intent_prompt(intent.value, tools)}\n{CONFIRMATION}\n\n"
                            f"The trader asks: {request}")]

    return Prompt.from_function(
        render, name=intent.value,
        description=f"The companion's {intent.value} prompt (tools: {', '.join(tools)}) with "
                    "the trader's request.")
