"""`companion serve`: one process runs every configured part, supervised.

Parts (each an async `run()`): `health` (terminal connection with reconnects, model servers,
process; publishes connection changes), `alerts` (the alert watcher), `api` (REST), `web`
(Chainlit), `telegram` (the bot, when a token and allowed chats are configured). A part that
raises is restarted with exponential backoff and reported on the event bus (`part_restarted`); the
others keep running. SIGINT/SIGTERM: servers stop accepting and finish in-flight requests
(chat turns) within a grace period, other parts are cancelled, then the companion closes
(checkpointer, terminal, and the journal last). Pending tickets live in the checkpointer and
the journal, so a restart resumes them.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

from agent.config import Settings, secret
from agent.domain import CompanionError
from agent.monitor import HealthMonitor
from agent.service import CompanionService

log = logging.getLogger(__name__)


class Part(Protocol):
    """Something `serve` runs and restarts when it raises. Returning means: done for good."""

    name: str
    where: str

    async def run(self) -> None: ...

    async def stop(self) -> None:
        """Ask the part to finish what it is doing and return from `run()` (servers)."""


@dataclass
class TaskPart:
    """A part that is one coroutine; stopping it is cancelling it."""

    name: str
    where: str
    job: Callable[[], Awaitable[None]]

    async def run(self) -> None:
        await self.job()

    async def stop(self) -> None:
        """Nothing to drain: the supervisor cancels it."""


@dataclass
class ServerPart:
    """A uvicorn server (a fresh one on each restart); stopping drains open requests."""

    name: str
    where: str
    make_server: Callable[[], Any]
    server: Any = None

    async def run(self) -> None:
        self.server = self.make_server()
        await self.server.serve()
        if not self.server.should_exit:  # uvicorn returns quietly when it could not bind
            raise CompanionError("server_stopped", f"The {self.name} server stopped on its own.")

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True


class Supervisor:
    """Runs parts; restarts a crashed one with backoff, reporting each restart to `restarted`
    (the service's `part_restarted`: an event every channel hears)."""

    def __init__(self, parts: list[Part], restarted: Callable[[str, str, int, float], None], *,
                 base_delay_s: float = 1.0,
                 max_delay_s: float = 60.0, stable_after_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.parts = parts
        self.restarted = restarted
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.stable_after_s = stable_after_s
        self.clock = clock
        self.restarts: Counter[str] = Counter()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        """Run every part until each has finished (or the supervisor is stopped)."""
        self._tasks = {p.name: asyncio.create_task(self._keep(p), name=f"part:{p.name}")
                       for p in self.parts}
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def stop(self, grace_s: float = 15.0) -> None:
        """Ask every part to stop, wait up to `grace_s` for them, then cancel what is left."""
        for part in self.parts:
            await part.stop()
        servers = [self._tasks[p.name] for p in self.parts
                   if isinstance(p, ServerPart) and p.name in self._tasks]
        if servers:
            await asyncio.wait(servers, timeout=grace_s)
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _keep(self, part: Part) -> None:
        failures = 0
        while True:
            started = self.clock()
            try:
                await part.run()
                log.info("part %s finished", part.name)
                return
            except asyncio.CancelledError:
                raise
            except (Exception, SystemExit) as exc:
                failures = 1 if self.clock() - started >= self.stable_after_s else failures + 1
                delay = min(self.base_delay_s * 2 ** (failures - 1), self.max_delay_s)
                self.restarts[part.name] += 1
                log.error("part %s crashed (%s); restarting in %.1f s", part.name,
                          type(exc).__name__, delay, exc_info=exc)
                self.restarted(part.name, type(exc).__name__, failures, delay)
                await asyncio.sleep(delay)


# -- what to run ------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    """Which parts run and where. `only` limits the parts (e.g. {"api"} for `companion api`)."""

    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_rate_per_minute: int = 600
    mcp_port: int | None = None  # MCP over streamable HTTP on api_host, off when None
    only: frozenset[str] | None = None
    skip: frozenset[str] = frozenset()
    health_interval_s: float = 10.0
    restart_base_delay_s: float = 1.0

    def wants(self, name: str) -> bool:
        return name not in self.skip and (self.only is None or name in self.only)


@dataclass
class Context:
    service: CompanionService
    monitor: HealthMonitor
    settings: Settings
    options: ServeOptions
    notes: dict[str, str] = field(default_factory=dict)  # why a part is off


def health_part(ctx: Context) -> Part:
    return TaskPart("health", f"every {ctx.options.health_interval_s:g} s",
                    lambda: ctx.monitor.run(ctx.options.health_interval_s))


def alerts_part(ctx: Context) -> Part:
    """The runtime: alert watcher and account monitor when this process holds the data dir's
    runner lock, else the relay of the runner's events (agent.runtime)."""
    return TaskPart("alerts", f"every {ctx.service.runtime_poll_s:g} s (one runner per data "
                    "dir)", ctx.service.run_runtime)


def api_part(ctx: Context) -> Part:
    from channels.rest.app import create_app
    from channels.rest.auth import ApiTokens, check_bind
    from channels.rest.server import api_server

    host, port = ctx.options.api_host, ctx.options.api_port
    tokens = ApiTokens.from_env()
    check_bind(host, tokens)
    if tokens.trade is None:
        ctx.notes["api"] = "read-only: no COMPANION_API_TOKEN, trading routes refused"
    app = create_app(ctx.service, tokens=tokens, monitor=ctx.monitor,
                     rate_per_minute=ctx.options.api_rate_per_minute)
    proxies = ctx.settings.access.trusted_proxies
    return ServerPart("api", f"http://{host}:{port}/v1",
                      lambda: api_server(app, host, port, trusted_proxies=proxies))


def mcp_part(ctx: Context) -> Part | None:
    """The MCP tools (read and propose only) over streamable HTTP, behind the REST API's gate
    and tokens; a fresh MCP server on each restart (its session manager runs once)."""
    from agent.access import AuthThrottle, is_loopback
    from channels.mcp.server import build_server, http_app
    from channels.rest.auth import ApiTokens
    from channels.rest.server import api_server

    if ctx.options.mcp_port is None:
        ctx.notes["mcp"] = "off: no --mcp-port"
        return None
    host, port = ctx.options.api_host, ctx.options.mcp_port
    if not is_loopback(host):
        raise CompanionError("mcp_tls_required", f"`companion serve` runs MCP without TLS, so "
                             f"only on 127.0.0.1, not on {host}: run `companion mcp --transport "
                             "http` with --certfile and --keyfile for that.")
    tokens = ApiTokens.from_env()
    throttle = AuthThrottle.from_settings(ctx.settings.access, "MCP server")

    def make_server() -> Any:
        server = build_server(ctx.service, tokens=tokens, host=host, port=port)
        app = http_app(server, throttle=throttle,
                       rate_per_minute=ctx.options.api_rate_per_minute)
        return api_server(app, host, port, trusted_proxies=ctx.settings.access.trusted_proxies)

    return ServerPart("mcp", f"http://{host}:{port}/mcp", make_server)


def web_part(ctx: Context) -> Part:
    from channels.rest.server import api_server
    from channels.web import runtime
    from channels.web.serve import load_app

    app = load_app(ctx.settings)
    runtime.runtime.service = ctx.service  # the web sessions share this process's companion
    host, port = ctx.settings.web.host, ctx.settings.web.port
    # Chainlit's lifespan ends the process with os._exit(0) at shutdown, before the journal
    # is closed; its startup only opens a companion, which this process already has.
    proxies = ctx.settings.access.trusted_proxies
    return ServerPart("web", f"http://{host}:{port}",
                      lambda: api_server(app, host, port, lifespan="off",
                                         trusted_proxies=proxies))


def telegram_part(ctx: Context) -> Part | None:
    from channels.telegram.cli import serve_telegram

    if secret("telegram_token") is None:
        ctx.notes["telegram"] = "off: no COMPANION_TELEGRAM_TOKEN"
        return None
    if not ctx.settings.telegram.allowed_chat_ids:
        ctx.notes["telegram"] = "off: no telegram.allowed_chat_ids"
        return None
    chats = ", ".join(map(str, ctx.settings.telegram.allowed_chat_ids))
    # The runtime (alert watcher) runs as its own part; the bot only listens and pushes.
    return TaskPart("telegram", f"chats {chats}", lambda: serve_telegram(ctx.service))


PartFactory = Callable[[Context], Part | None]
#: Every part `serve` knows, in start order. A factory returns None (with a note) when its
#: part is not configured, and raises CompanionError when its configuration is unsafe.
PARTS: dict[str, PartFactory] = {"health": health_part, "alerts": alerts_part,
                                 "api": api_part, "mcp": mcp_part, "web": web_part,
                                 "telegram": telegram_part}


def build_parts(ctx: Context) -> list[Part]:
    parts = []
    for name, factory in PARTS.items():
        if not ctx.options.wants(name):
            continue
        part = factory(ctx)
        if part is not None:
            parts.append(part)
    return parts


def status_table(ctx: Context, parts: list[Part], state: Any) -> Table:
    """What runs where, which model, which broker, the trading state (`state`: the service's
    `risk_state()`)."""
    service = ctx.service
    table = Table(title="Trading AI Companion", show_header=True, header_style="bold")
    table.add_column("part")
    table.add_column("where")
    table.add_column("state")
    running = {p.name: p for p in parts}
    for name in PARTS:
        if name in running:
            table.add_row(name, running[name].where, ctx.notes.get(name, "running"))
        elif ctx.options.wants(name) or name in ctx.notes:
            table.add_row(name, "-", ctx.notes.get(name, "off"))
    report = ctx.monitor.last
    terminal = "connected" if report and report.terminal.connected else "NOT connected"
    models = ", ".join(f"{m.name} ({m.provider})" for m in service.models()) or \
        "none: command mode (/help)"
    table.add_section()
    table.add_row("broker", service.settings.broker.kind, terminal)
    table.add_row("models", models, "")
    table.add_row("trading", state.trading_state.value, state.reason)
    return table


async def serve(settings: Settings, options: ServeOptions, stop: asyncio.Event, *,
                console: Console | None = None, **companion_args: Any) -> Supervisor:
    """Open the companion, run the parts until `stop` is set, then shut down in order.

    `companion_args` go to `open_service` (tests pass a router, a terminal, a clock).
    """
    from agent.app import open_service

    async with open_service(settings, **companion_args) as service:
        monitor = service.health_monitor()
        await monitor.check()
        ctx = Context(service, monitor, settings, options)
        parts = build_parts(ctx)
        state = await service.risk_state()
        (console or Console()).print(status_table(ctx, parts, state))
        supervisor = Supervisor(parts, service.part_restarted,
                                base_delay_s=options.restart_base_delay_s)
        running = asyncio.create_task(supervisor.run(), name="supervisor")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
        log.info("shutting down")
        await supervisor.stop()
        stopping.cancel()
        await running
    log.info("stopped; the journal is closed")
    return supervisor


def run_until_signalled(main: Callable[[asyncio.Event], Coroutine[Any, Any, Any]]) -> None:
    """Run `main(stop)` in a fresh loop; SIGINT/SIGTERM set `stop` (a second one forces)."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_signal(sig: signal.Signals) -> None:
            if stop.is_set() and task is not None:
                task.cancel()
                return
            log.warning("%s received: shutting down", sig.name)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        await main(stop)

    asyncio.run(runner())
