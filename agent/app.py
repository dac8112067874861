"""Assembling the companion: journal, terminal, broker, desk, risk, models, graph, service.

`open_companion()` is the one place where the order sender is created, and it is handed to
the `Executor` (the graph's execute step) and to nothing else.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent.alerts.book import AlertBook
from agent.broker.broker import MT5Broker
from agent.broker.manager import TerminalManager, open_terminal
from agent.broker.sender import OrderSender
from agent.broker.serialized import SerializedTerminal
from agent.config import Settings, get_settings
from agent.domain import CompanionError
from agent.events import EventBus
from agent.graph.context import GraphDeps
from agent.graph.execute import Executor
from agent.graph.graph import build_graph
from agent.graph.routing import ModelRouter, SelectorRouter, StaticRouter
from agent.market.sentiment import HeadlineSource
from agent.monitor import HealthMonitor
from agent.risk.state import RiskStateStore
from agent.risk.tickets import TicketBook
from agent.service import CompanionService
from agent.store import Journal
from agent.tools.commands import CommandRunner
from agent.tools.desk import Desk


log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Companion:
    """The assembled companion. Channels use `service`; the rest is for doctor and tests."""

    settings: Settings
    journal: Journal
    terminal: Any
    broker: MT5Broker
    desk: Desk
    events: EventBus
    service: CompanionService
    router: ModelRouter
    models: list[Any]
    deps: GraphDeps

    def paper(self) -> Any:
        """The paper terminal's clock controls; refused on a live terminal."""
        terminal = getattr(self.terminal, "wrapped", self.terminal)
        if not hasattr(terminal, "clock_status"):
            raise CompanionError("not_paper", "This command only works on the paper terminal.")
        return PaperControls(terminal)

    async def doctor(self) -> dict[str, Any]:
        """Broker, terminal and model health, account, symbols, journal: plain data."""
        account = self.broker.account()
        health = (await HealthMonitor.for_companion(self).check()).to_dict()
        return {
            "status": health["status"],
            "broker": self.settings.broker.kind,
            "terminal": health["terminal"],
            **self._bridge_health(),
            "account": f"{account.login} {account.server} ({'demo' if account.is_demo else 'REAL'})",
            "equity": f"{account.equity:.2f} {account.currency}",
            "symbols": self.broker.symbols(),
            "trading_state": self.desk.risk_state.current().trading_state.value,
            "models": [f"{m.name} ({m.provider})" for m in self.models],
            "model_servers": health["models"],
            "process": health["process"],
            "journal": str(self.journal.path),
        }

    def _bridge_health(self) -> dict[str, Any]:
        health = getattr(getattr(self.terminal, "wrapped", None), "health", None)
        return {"bridge": health()} if callable(health) else {}

    async def risk_status(self) -> dict[str, Any]:
        return {"state": self.desk.risk_state.current().to_dict(),
                "limits": self.settings.risk.model_dump(mode="json")}

    async def import_bars(self, path: str, symbol: str | None,
                          timeframe: str | None) -> dict[str, Any]:
        from agent.broker.paper import bars_dir, import_bars

        report = import_bars(path, symbol=symbol, timeframe=timeframe,
                             dest_dir=bars_dir(self.settings))
        return {**report.to_dict(), "note": "Restart the companion to replay it."}


@dataclass(frozen=True)
class PaperControls:
    terminal: Any

    def status(self) -> dict[str, Any]:
        return self.terminal.clock_status().to_dict()

    def step(self, bars: int) -> dict[str, Any]:
        return self.terminal.step(bars).to_dict()


async def model_router(settings: Settings, journal: Journal) -> tuple[ModelRouter, list[Any]]:
    """Detect reachable models and route tasks among them (empty: command mode)."""
    from agent.models.detector import adetect
    from agent.models.eval_scores import latest_scores
    from agent.models.local import detection_settings
    from agent.models.monitor import ModelCallMonitor
    from agent.models.providers import chat_model
    from agent.models.selector import ModelSelector

    models = await adetect(detection_settings(settings))
    if not models:
        return StaticRouter(), []
    selector = ModelSelector(models, user_choice=settings.models.preferred,
                             scores_provider=latest_scores(journal))

    def monitor(info: Any, task: str) -> ModelCallMonitor:
        return ModelCallMonitor(journal, model=info.name, provider=info.provider, task=task)

    build = functools.partial(chat_model, timeout=settings.models.call_timeout_s)
    return SelectorRouter(selector, build, monitor), models


@asynccontextmanager
async def open_companion(settings: Settings | None = None, *, router: ModelRouter | None = None,
                         terminal: Any = None, detect_models: bool = True,
                         clock: Callable[[], datetime] = _utcnow) -> AsyncIterator[Companion]:
    """Open everything the companion needs; close it all on exit.

    Without `router`, reachable models are detected (`detect_models`), else command mode.
    """
    settings = settings or get_settings()
    journal = Journal(settings.journal_path)
    raw = terminal if terminal is not None else open_terminal(settings, journal)
    term = SerializedTerminal(raw)
    manager = TerminalManager(term, settings.broker, journal=journal)
    try:
        manager.connect()
        broker = MT5Broker(term)
        risk_state = RiskStateStore(journal)
        desk = Desk(broker, risk_state, settings.risk, clock=clock,
                    headlines=HeadlineSource())
        tickets = TicketBook(journal)
        events = EventBus(journal)
        sender = OrderSender(term, magic=settings.broker.magic,
                             deviation_points=settings.broker.deviation_points)
        executor = Executor(desk, tickets, sender, journal, events=events, clock=clock)
        models: list[Any] = []
        if router is None:
            router, models = (await model_router(settings, journal) if detect_models
                              else (StaticRouter(), []))
        commands = CommandRunner(desk, alerts=AlertBook(journal))
        deps = GraphDeps(desk=desk, commands=commands, tickets=tickets, executor=executor,
                         router=router, events=events, clock=clock,
                         ticket_ttl_s=settings.risk.ticket_ttl_seconds)
        checkpoints = settings.journal_path.with_name("checkpoints.db")
        async with aiosqlite.connect(str(checkpoints)) as conn:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints
            graph = build_graph(deps, AsyncSqliteSaver(conn))
            log.info("companion open: %s terminal, %s, journal %s", settings.broker.kind,
                     ", ".join(m.name for m in models) or "no model detected",
                     settings.journal_path)
            yield Companion(settings, journal, term, broker, desk, events,
                            CompanionService(graph, desk, commands, tickets), router, models,
                            deps)
    finally:
        _quietly(manager.shutdown)  # never mask the error that brought us here
        journal.close()


def _quietly(close: Callable[[], Any]) -> None:
    try:
        close()
    except Exception:  # noqa: BLE001 - a dead terminal may fail to shut down too
        log.warning("terminal shutdown failed", exc_info=True)
