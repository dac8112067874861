"""The MCP server over the service, and its two transports: stdio and streamable HTTP.

- Errors are mapped once (`CompanionMCP.call_tool`): a domain refusal is a tool error whose text
  is the service's own sentence (structured content `{code, message}`, plus the decision for a
  denied proposal); invalid arguments are one sentence naming the field, as the REST API says
  it; anything unexpected is logged and answered with a generic sentence.
- stdio: the client started this process as the trader's own command, as with the CLI, so every
  tool is open to it (proposals included; confirmation still happens elsewhere).
- HTTP: every request passes the REST API's door (`channels.rest.auth.Gate`: the same tokens,
  scopes, per-caller rate limit and lockout after wrong tokens); proposal and alert tools need
  the trading token. Without a token it listens on loopback only; beyond loopback it needs a
  token and TLS (`check_bind`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from agent.access import AuthThrottle, RateLimiter, is_loopback
from agent.access import Scope as TokenScope
from agent.app import open_service
from agent.config import Settings
from agent.domain import CompanionError
from agent.service import CompanionService
from channels.mcp.resources import CONFIRMATION, register_prompts, register_resources
from channels.mcp.tools import TRADING_TOOLS, register_tools
from channels.rest.auth import READ_ENV, TRADE_ENV, ApiRefusal, ApiTokens, Gate
from channels.rest.errors import error_body, validation_sentence
from channels.rest.server import api_server

log = logging.getLogger("channels.mcp")

NAME = "trading-companion"
INSTRUCTIONS = ("A MetaTrader 5 trading companion. Read tools give real numbers from the "
                "terminal (quote, bars, analyze, sentiment, account, positions, orders, "
                "history, profit, daily, size_position). Propose-only tools (propose_order, "
                "close_position, close_all, modify_position, modify_order, cancel_order, "
                "breakeven, trail_stop) run the risk engine and answer with every verdict. "
                f"{CONFIRMATION}")
DEFAULT_PORT = 8765
DEFAULT_RATE_PER_MINUTE = 600
MAX_BODY_BYTES = 64 * 1024
SCOPE_KEY = "mcp_scope"  # where the HTTP door leaves the caller's scope in the request state
INTERNAL = ("Something went wrong on our side; the error was logged. Check the state (tickets, "
            "positions) before retrying.")


class CompanionMCP(FastMCP):
    """FastMCP with the companion's error mapping and the trading-scope check."""

    def __init__(self, tokens: ApiTokens | None = None, **settings: Any) -> None:
        super().__init__(NAME, instructions=INSTRUCTIONS, **settings)
        self.tokens = tokens or ApiTokens()

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run a tool; a refusal of any kind is a tool error with one sentence (the low-level
        server passes a `CallToolResult` through as it is)."""
        try:
            if name in TRADING_TOOLS:
                self._check_trading(self.get_context().request_context.request)
            return await super().call_tool(name, arguments)
        except CompanionError as exc:
            return _refused(exc)
        except ToolError as exc:
            return _refused(_refusal_of(name, exc))

    def _check_trading(self, request: Any) -> None:
        """Over HTTP, a proposal or an alert needs the trading token (stdio: the trader's own
        process, like the CLI)."""
        if request is None or getattr(request.state, SCOPE_KEY, None) is TokenScope.TRADE:
            return
        if self.tokens.trade is None:
            raise CompanionError("trading_token_required", "Proposals and alerts over the MCP "
                                 f"server's HTTP transport are off: set {TRADE_ENV} in the "
                                 "environment or the OS keyring and restart `companion mcp`.")
        raise CompanionError("read_only_token", "This token is read-only: proposals and "
                             "alerts need the trading token.")


def _refusal_of(name: str, exc: ToolError) -> CompanionError:
    """The sentence of a tool's failure: the service's own, the first invalid argument, the
    SDK's (an unknown tool), or, for anything unexpected (logged), a generic one."""
    cause = exc.__cause__
    if isinstance(cause, CompanionError):
        return cause
    if isinstance(cause, ValidationError):
        return CompanionError("invalid_request", validation_sentence(cause.errors()))
    if cause is None:
        return CompanionError("unknown_tool", f"{exc}.")
    log.error("MCP tool %s failed: %s", name, type(cause).__name__, exc_info=cause)
    return CompanionError("internal_error", INTERNAL)


def _refused(exc: CompanionError) -> CallToolResult:
    details = getattr(exc, "details", {})
    return CallToolResult(content=[TextContent(type="text", text=exc.message)], isError=True,
                          structuredContent={**error_body(exc.code, exc.message), **details})


def build_server(service: CompanionService, *, tokens: ApiTokens | None = None,
                 host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> CompanionMCP:
    """The MCP server over `service`: tools, resources and prompts. `host` and `port` are
    where its HTTP transport will listen (a loopback host turns on the SDK's DNS rebinding
    protection); stdio ignores them."""
    server = CompanionMCP(tokens, host=host, port=port, log_level="WARNING",
                          max_request_body_size=MAX_BODY_BYTES)
    register_tools(server, service)
    register_resources(server, service)
    register_prompts(server)
    return server


class HttpDoor:
    """ASGI middleware: every HTTP request passes the REST API's gate (token, scope, rate
    limit, lockout) before the MCP transport sees it; a refusal is the REST API's JSON error."""

    def __init__(self, app: Any, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            granted = self.gate.admit(request, TokenScope.READ)
        except ApiRefusal as exc:
            response = JSONResponse(error_body(exc.code, exc.message), exc.status,
                                    headers=exc.headers)
            await response(scope, receive, send)
            return
        setattr(request.state, SCOPE_KEY, granted)
        await self.app(scope, receive, send)


def http_app(server: CompanionMCP, *, throttle: AuthThrottle,
             rate_per_minute: int = DEFAULT_RATE_PER_MINUTE) -> Any:
    """The streamable HTTP app (`/mcp`) behind the door, with the server's tokens."""
    gate = Gate(server.tokens, RateLimiter(rate_per_minute), throttle)
    return HttpDoor(server.streamable_http_app(), gate)


def check_bind(host: str, tokens: ApiTokens, *, tls: bool) -> None:
    """Refuse to serve beyond this machine without a token and TLS."""
    if is_loopback(host):
        return
    if not tokens.any:
        raise CompanionError("mcp_no_token", f"The MCP server will not listen on {host} without "
                             f"a token: set {TRADE_ENV} (and/or {READ_ENV} for read-only) in the "
                             "environment or the OS keyring, or bind it to 127.0.0.1.")
    if not tls:
        raise CompanionError("mcp_tls_required", f"The MCP server will not listen on {host} "
                             "without TLS (tokens and proposals would cross the network in "
                             "clear): pass --certfile and --keyfile, or bind it to 127.0.0.1.")


async def serve_stdio(settings: Settings, stop: asyncio.Event) -> None:
    """Serve one client over stdin/stdout until it hangs up or `stop` is set. Like every
    long-running companion, it runs the runtime (alert watcher, account monitor) or follows
    the data dir's runner."""
    async with open_service(settings, detect_models=False, run_runtime=True) as service:
        await _until(stop, build_server(service).run_stdio_async())


async def serve_http(settings: Settings, stop: asyncio.Event, *, host: str, port: int,
                     tokens: ApiTokens, rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
                     certfile: str | None = None, keyfile: str | None = None) -> None:
    """Serve streamable HTTP at http(s)://host:port/mcp until `stop` is set (in-flight calls
    finish first)."""
    check_bind(host, tokens, tls=bool(certfile and keyfile))
    async with open_service(settings, detect_models=False, run_runtime=True) as service:
        server = build_server(service, tokens=tokens, host=host, port=port)
        app = http_app(server, throttle=AuthThrottle.from_settings(settings.access, "MCP server"),
                       rate_per_minute=rate_per_minute)
        uvicorn = api_server(app, host, port, trusted_proxies=settings.access.trusted_proxies,
                             ssl_certfile=certfile, ssl_keyfile=keyfile)
        serving = asyncio.create_task(uvicorn.serve(), name="mcp-http")
        await asyncio.wait([serving, asyncio.create_task(stop.wait())],
                           return_when=asyncio.FIRST_COMPLETED)
        uvicorn.should_exit = True
        await serving


async def _until(stop: asyncio.Event, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` until it returns or `stop` is set (then it is cancelled)."""
    task = asyncio.create_task(work)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    task.cancel()  # nothing when it has returned
    with contextlib.suppress(asyncio.CancelledError):
        await task  # its own error, if it failed
