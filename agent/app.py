"""Assembling the companion: journal, terminal, broker, desk, risk, models, graph, service.

`open_companion()` is the one place where the order sender is created, and it is handed to
the `Executor` (the graph's execute step) and to nothing else.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from agent.alerts.book import AlertBook
from agent.broker.broker import MT5Broker
from agent.broker.manager import TerminalManager, open_terminal
from agent.broker.sender import OrderSender
from agent.broker.serialized import SerializedTerminal
from agent.config import Settings, get_settings
from agent.domain import CompanionError
from agent.events import EventBus, EventType
from agent.graph.context import GraphDeps
from agent.graph.execute import Executor
from agent.graph.targets import ModelRouter, StaticRouter
from agent.market.sentiment import HeadlineSource
from agent.risk.state import RiskStateStore
from agent.risk.tickets import TicketBook
from agent.runtime import Runtime
from agent.service import CompanionService
from agent.service_ops import Assembly
from agent.store import Journal
from agent.store.journal import damaged_file, is_damaged
from agent.tools.commands import CommandRunner
from agent.tools.desk import Desk
from agent.trailing_job import TrailingJob

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Companion:
    """The assembled companion. Channels hold its `service` only (`open_service`, see
    tests/channels/test_layering.py); the rest is for tests and benches that look beneath."""

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
    recovered: list[str] = field(default_factory=list)  # tickets a crash left claimed, settled
    runtime: Runtime | None = None  # the watcher and event relay (see agent.runtime)


async def model_router(settings: Settings, journal: Journal) -> tuple[ModelRouter, list[Any]]:
    """Detect reachable models and route tasks among them (empty: command mode)."""
    from agent.graph.routing import OnDemandRouter, SelectorRouter
    from agent.models.detector import adetect
    from agent.models.eval_scores import latest_scores
    from agent.models.local import detection_settings
    from agent.models.monitor import ModelCallMonitor
    from agent.models.providers import chat_model
    from agent.models.selector import ModelSelector

    def monitor(info: Any, task: str) -> ModelCallMonitor:
        return ModelCallMonitor(journal, model=info.name, provider=info.provider, task=task)

    build = functools.partial(chat_model, timeout=settings.models.call_timeout_s)

    def router_over(models: list[Any]) -> ModelRouter:
        if not models:
            return StaticRouter()
        return SelectorRouter(ModelSelector(models, user_choice=settings.models.preferred,
                                            scores_provider=latest_scores(journal)),
                              build, monitor)

    if settings.models.local.auto_start:
        from agent.models.detector import detect
        from agent.models.ondemand import OnDemandLocal

        return OnDemandRouter(OnDemandLocal(settings), lambda: router_over(
            detect(detection_settings(settings)))), []
    models = await adetect(detection_settings(settings))
    return router_over(models), models


def checkpoints_path(settings: Settings) -> Path:
    """The LangGraph checkpointer's file (conversations and their pending tickets)."""
    return settings.journal_path.with_name("checkpoints.db")


@asynccontextmanager
async def open_companion(settings: Settings | None = None, *, router: ModelRouter | None = None,
                         terminal: Any = None, detect_models: bool = True,
                         clock: Callable[[], datetime] = _utcnow,
                         run_runtime: bool = False) -> AsyncIterator[Companion]:
    """Open everything the companion needs; close it all on exit.

    Without `router`, reachable models are detected (`detect_models`), else command mode.
    `run_runtime`: a long-running companion (chat, web, bot): its runtime (alert watcher and
    account monitor, or the relay of the data dir runner's events) runs until exit.
    A damaged journal or checkpoint file, found at open or later, is one sentence
    (CompanionError `database_damaged`) naming the file and what to do.
    """
    settings = settings or get_settings()
    try:
        async with _open(settings, router=router, terminal=terminal,
                         detect_models=detect_models, clock=clock) as companion:
            if not run_runtime:
                yield companion
                return
            running = asyncio.create_task(companion.runtime.run(), name="runtime")
            try:
                yield companion
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
    except sqlite3.DatabaseError as exc:
        if not is_damaged(exc):
            raise
        files = (settings.journal_path, checkpoints_path(settings))
        bad = next((path for path in files if not _intact(path)), None)
        if bad is not None:
            raise damaged_file(bad, exc) from None
        raise CompanionError("database_damaged", f"A database of the companion in "
                             f"{settings.journal_path.parent} is damaged ({exc}): stop the "
                             "companion and run `companion doctor`.") from None


@asynccontextmanager
async def open_service(settings: Settings | None = None,
                       **options: Any) -> AsyncIterator[CompanionService]:
    """The service of a companion opened as `open_companion(settings, **options)` opens it:
    all a channel holds (tests/channels/test_layering.py)."""
    async with open_companion(settings, **options) as companion:
        yield companion.service


def _intact(path: Path) -> bool:
    """SQLite's quick check of one file passes (a missing file has nothing to damage)."""
    if not path.exists():
        return True
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return conn.execute("PRAGMA quick_check(1)").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        return False


@asynccontextmanager
async def _open(settings: Settings, *, router: ModelRouter | None, terminal: Any,
                detect_models: bool, clock: Callable[[], datetime]) -> AsyncIterator[Companion]:
    journal = Journal(settings.journal_path)
    raw = terminal if terminal is not None else open_terminal(settings, journal)
    term = SerializedTerminal(raw)
    no_password = settings.broker.kind == "paper"  # nothing to read from the OS keyring
    manager = TerminalManager(term, settings.broker, journal=journal, **(
        {"password_provider": lambda: None} if no_password else {}))
    try:
        manager.connect()
        broker = MT5Broker(term)
        events = EventBus(journal)
        risk_state = RiskStateStore(journal, publish=functools.partial(
            events.publish, EventType.RISK_STATE_CHANGED))  # published where it changes
        desk = Desk(broker, risk_state, settings.risk, clock=clock,
                    headlines=HeadlineSource())
        tickets = TicketBook(journal)
        sender = OrderSender(term, magic=settings.broker.magic,
                             deviation_points=settings.broker.deviation_points)
        executor = Executor(desk, tickets, sender, journal, events=events, clock=clock)
        recovered = _settle_claimed(executor)
        models: list[Any] = []
        if router is None:
            router, models = (await model_router(settings, journal) if detect_models
                              else (StaticRouter(), []))
        commands = CommandRunner(desk, alerts=AlertBook(journal))
        deps = GraphDeps(desk=desk, commands=commands, tickets=tickets, executor=executor,
                         router=router, events=events, clock=clock,
                         ticket_ttl_s=settings.risk.ticket_ttl_seconds,
                         plan_reads=settings.models.plan_reads)
        async with aiosqlite.connect(str(checkpoints_path(settings))) as conn:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints
            graph = GraphOnDemand(lambda: _build_graph(deps, conn))
            log.info("companion open: %s terminal, %s, journal %s", settings.broker.kind,
                     ", ".join(m.name for m in models) or "no model detected",
                     settings.journal_path)
            runtime = Runtime(desk, journal, events, tickets, jobs=(TrailingJob(executor),))
            service = CompanionService(graph, Assembly(
                settings=settings, journal=journal, terminal=term, broker=broker, desk=desk,
                events=events, router=router, models=models, recovered=recovered,
                runtime=runtime), commands, tickets)
            yield Companion(settings, journal, term, broker, desk, events, service, router,
                            models, deps, recovered, runtime)
    finally:
        if router is not None:
            _quietly(router.close)  # servers started on demand
        _quietly(manager.shutdown)  # never mask the error that brought us here
        journal.close()


class GraphOnDemand:
    """The compiled graph, built on its first use: a data command (`companion quote`) never
    runs the graph, so it neither builds the tools' schemas nor imports the nodes."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._graph: Any = None
        self._lock = threading.Lock()  # built once, whichever thread asks first

    def __getattr__(self, name: str) -> Any:
        if self._graph is None:
            with self._lock:
                if self._graph is None:
                    self._graph = self._build()
        return getattr(self._graph, name)


def _build_graph(deps: GraphDeps, conn: aiosqlite.Connection) -> Any:
    """The compiled graph over the checkpoint database `conn` (LangGraph is imported here)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from agent.graph.graph import build_graph

    return build_graph(deps, AsyncSqliteSaver(conn))


def _settle_claimed(executor: Executor) -> list[str]:
    """Tickets a killed process left `claimed`, settled against the terminal (see Executor);
    a terminal that fails here leaves them for the next start rather than stopping this one."""
    try:
        notices = executor.recover_claimed()
    except Exception:  # noqa: BLE001 - the companion must still open to tell the trader
        log.exception("could not settle the tickets left claimed; trying again at next start")
        return []
    for notice in notices:
        log.warning("%s", notice)
    return notices


def _quietly(close: Callable[[], Any]) -> None:
    try:
        close()
    except Exception:  # noqa: BLE001 - a dead terminal may fail to shut down too
        log.warning("terminal shutdown failed", exc_info=True)
