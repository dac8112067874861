"""The MCP server over a command-mode companion on the stepped paper terminal: in process (the
SDK's in-memory client), and in a real uvicorn on 127.0.0.1 for the HTTP transport."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import CallToolResult

from agent.access import AuthThrottle, free_port
from agent.app import open_companion
from agent.config import Settings
from agent.graph.routing import StaticRouter
from channels.mcp.server import build_server, http_app
from channels.rest.auth import ApiTokens
from channels.rest.server import api_server
from tests.support.live_server import LiveServer

ORDER = {"symbol": "EURUSD", "side": "buy", "volume": 0.1, "stop_loss": 1.11,
         "take_profit": 1.122}


def text(result: CallToolResult) -> str:
    """The text a client shows of a tool result."""
    return result.content[0].text


def state_of(companion: Any) -> tuple:
    """What an invalid call must leave as it was."""
    journal = companion.journal
    return (companion.desk.risk_state.current(), *(
        len(journal.rows(table)) for table in ("tickets", "orders", "alerts")),
        [a["status"] for a in journal.rows("alerts")], len(companion.broker.positions()))


@pytest.fixture
async def mcp(companion):
    """A client session with the server, in process. The SDK's task group is entered and left
    in one task of its own (a fixture's setup and teardown run in different tasks)."""
    opened: asyncio.Future[ClientSession] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def hold() -> None:
        async with create_connected_server_and_client_session(
                build_server(companion.service)) as session:
            opened.set_result(session)
            await done.wait()

    holder = asyncio.create_task(hold())
    await asyncio.wait([opened, holder], return_when=asyncio.FIRST_COMPLETED)
    if holder.done():
        await holder  # it failed before the session opened: its error
    yield opened.result()
    done.set()
    await holder


@asynccontextmanager
async def http_session(url: str, token: str | None = None):
    """A client session over streamable HTTP, with a bearer token when given."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(headers=headers, timeout=30) as client, \
            streamable_http_client(f"{url}/mcp", http_client=client) as (read, write, _), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


class LiveMcp(LiveServer):
    """The MCP server's HTTP app in a real uvicorn on a free loopback port, in a thread with
    its own loop (the companion is opened in that loop)."""

    what = "the MCP server"

    def __init__(self, settings: Settings, tokens: ApiTokens, clock: Any, *,
                 throttle: AuthThrottle | None = None, rate_per_minute: int = 600) -> None:
        self.settings, self.tokens, self.clock = settings, tokens, clock
        self.throttle = throttle or AuthThrottle(what="MCP server")
        self.rate_per_minute = rate_per_minute
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.companion: Any = None
        super().__init__()

    async def serve(self) -> None:
        async with open_companion(self.settings, router=StaticRouter(),
                                  clock=self.clock) as companion:
            self.companion = companion
            mcp = build_server(companion.service, tokens=self.tokens, port=self.port)
            app = http_app(mcp, throttle=self.throttle, rate_per_minute=self.rate_per_minute)
            self.server = api_server(app, "127.0.0.1", self.port)
            await self.server.serve()


def sse_json(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC message of a streamable HTTP answer (an SSE frame or a JSON body)."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    return json.loads(data[-1])
